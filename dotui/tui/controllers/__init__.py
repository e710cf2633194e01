"""The main screen's controllers: refresh loop, view, commands (and the command bar), dialogs, tour."""
