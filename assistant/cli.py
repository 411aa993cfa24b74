"""`cairn ask` (one question: its sources first, then each verified sentence, then the cited
passages) and `cairn chat` (a REPL with conversation memory): thin shells over assistant.agent."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any

from assistant.agent import Agent, AgentConfig
from assistant.answer import POLICIES, Answer
from assistant.llm.cli_args import add_llm_arguments, llm_config_from_args
from assistant.memory import Conversation
from assistant.render import answer_json, source_label, sources_text, trace_text
from assistant.roles import ROLES
from assistant.transforms import TransformConfig
from knowledge.audit import Accessor
from knowledge.errors import CairnError
from knowledge.types import Chunk

EXAMPLES = """examples:
  cairn ask "documentaries about climate change from the last year"
  cairn ask "comedies like Silicon Valley" --show-trace
  cairn ask "what medications with doses were started for pt_0012?" --collection notes
  cairn chat --role user
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ask", help="answer one question from the sources, with verified citations",
                              description="Answer one question: the sources found are listed first, then each "
                                          "sentence of the answer once the verifier has checked it (policy remove; "
                                          "under --policy flag or --no-verify the reply streams as it is written), "
                                          "then the cited passages.",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", help="the question, in quotes")
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON (no streaming)")
    p.set_defaults(func=_ask)

    p = subparsers.add_parser("chat", help="an interactive chat that remembers the conversation",
                              description="A chat in the terminal. Follow-ups refer to the previous answer "
                                          "(\"and which of those are from 2023?\", \"tell me about the second one\"). "
                                          "Commands: /reset forgets the conversation, /trace toggles the trace, "
                                          "/quit (or Ctrl-D) leaves.",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(p)
    p.set_defaults(func=_chat)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--collection", "-c", choices=("catalog", "notes"),
                   help="collection for questions that name none (default: decided per question)")
    p.add_argument("--role", choices=ROLES, default=os.environ.get("CAIRN_ROLE", "clinician"),
                   help="whose question it is: notes are searched only for clinician/admin "
                        "(default: $CAIRN_ROLE or %(default)s, the local owner of the data)")
    p.add_argument("--show-trace", action="store_true", help="print the route, filters, tool call, verdicts, timings")
    p.add_argument("--policy", choices=POLICIES, default="remove",
                   help="unsupported sentences: remove them, or flag them [unverified] (default: %(default)s)")
    p.add_argument("--no-verify", action="store_true", help="skip the citation verifier (faster, unchecked)")
    p.add_argument("-k", type=int, help="sources given to the model (default: 5 catalog items / 6 note sections)")
    p.add_argument("--max-tokens", type=int, default=256, help="cap on the answer's length (default: %(default)s)")
    p.add_argument("--transforms", choices=("hyde", "multi-query", "both", "off"), default="hyde",
                   help="query transforms when first-pass evidence is weak (default: %(default)s, the one the "
                        "golden-set ablation kept)")
    p.add_argument("--today", type=dt.date.fromisoformat,
                   help="the date 'last year' is relative to, YYYY-MM-DD (default: today)")
    p.add_argument("--user", metavar="NAME",
                   help="who is asking, recorded in the audit log of note reads (default: the OS user)")
    add_llm_arguments(p)


def transform_config(choice: str) -> TransformConfig | None:
    if choice == "off":
        return None
    return TransformConfig(hyde=choice in ("hyde", "both"), multi_query=choice in ("multi-query", "both"))


def build_agent(args: argparse.Namespace) -> Agent:
    from assistant.llm.config import load_llm

    ks = {"k_catalog": args.k, "k_notes": args.k} if args.k else {}
    config = AgentConfig(role=args.role, collection=args.collection, verify=not args.no_verify, policy=args.policy,
                         max_tokens=args.max_tokens, today=args.today, transforms=transform_config(args.transforms),
                         **ks)
    return Agent(load_llm(llm_config_from_args(args)), config)


class _Terminal:
    """Streams one answer to the terminal: the retrieved sources as soon as they are found,
    then, under policy remove with the verifier on, each sentence once verified (nothing
    unverified is ever printed); otherwise the raw reply as the model writes it."""

    def __init__(self, agent: Agent) -> None:
        self.raw = agent.config.policy == "flag" or not agent.config.verify
        self.printed: list[str] = []

    def ask(self, agent: Agent, question: str, **kwargs: Any) -> Answer:
        return agent.ask(question, on_sources=self.sources, **kwargs,
                         **({"stream_callback": self.write} if self.raw else {"on_sentence": self.sentence}))

    def sources(self, chunks: list[Chunk]) -> None:
        if chunks:
            print(f"Found {len(chunks)} source{'s' if len(chunks) != 1 else ''}: "
                  + "; ".join(f"[{n}] {source_label(c)}" for n, c in enumerate(chunks, start=1)), flush=True)

    def write(self, piece: str) -> None:
        self.printed.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    def sentence(self, text: str) -> None:
        self.write(("" if not self.printed else " ") + text)

    def finish(self, answer: Answer, show_trace: bool) -> None:
        print()
        if " ".join("".join(self.printed).split()) != " ".join(answer.text.split()):
            # The verifier changed the streamed reply (removed or flagged a sentence, re-pointed a marker).
            print(f"\nVerified answer: {answer.text}")
        print()
        print(sources_text(answer))
        if show_trace:
            print(trace_text(answer))


def _ask(args: argparse.Namespace) -> int:
    agent = build_agent(args)
    accessor = Accessor.local("cli:ask", role=args.role, user=args.user)
    try:
        if args.json:
            print(answer_json(agent.ask(args.question, accessor=accessor)))
            return 0
        terminal = _Terminal(agent)
        terminal.finish(terminal.ask(agent, args.question, accessor=accessor), args.show_trace)
        return 0
    finally:
        agent.close()


def _chat(args: argparse.Namespace) -> int:
    agent = build_agent(args)
    accessor = Accessor.local("cli:chat", role=args.role, user=args.user)
    conversation = Conversation()
    show_trace = args.show_trace
    print(f"cairn chat — role {args.role}, model {agent.llm.model_id}. /reset, /trace, /quit.")
    try:
        while True:
            try:
                question = input("\nyou> ").strip()
            except EOFError:
                print()
                return 0
            if not question:
                continue
            if question in ("/quit", "/exit"):
                return 0
            if question == "/reset":
                conversation = Conversation()
                print("(conversation forgotten)")
                continue
            if question == "/trace":
                show_trace = not show_trace
                print(f"(trace {'on' if show_trace else 'off'})")
                continue
            terminal = _Terminal(agent)
            try:
                answer = terminal.ask(agent, question, conversation=conversation, accessor=accessor)
            except CairnError as exc:  # one bad question does not end the chat
                print(f"\nerror: {exc}")
                continue
            terminal.finish(answer, show_trace)
    except KeyboardInterrupt:
        print()
        return 130
    finally:
        agent.close()
