"""The main window: its layout and docks, menus, palettes and the About box."""
