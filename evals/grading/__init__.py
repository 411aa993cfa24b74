"""Expert grading: the grading database (store.py) and its records (records.py), the queue
importers (queue.py: eval runs, chat logs, feedback), the chat log the UI appends to
(chatlog.py), blind pairwise order (pairwise.py), exports to golden cases and TRL preference
pairs (export.py), the LLM judge's rubric grades of the items (judging.py), judge-vs-expert
pairs for calibration (calibration.py) and `cairn grades` (cli.py)."""
