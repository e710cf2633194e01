"""How every front end shows the engine's data: rich only (no Textual, no prompt_toolkit).

- ``formats``: times, sizes, durations, calls and values as short text.
- ``render``: ``Renderer``, the command outcomes and engine events as rich
  tables and lines, for the REPL, batch mode and the TUI's command bar.
"""
