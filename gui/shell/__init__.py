"""The window shell: the main window and what it is made of (actions, docks, find bar,
breadcrumbs, welcome page, export, drag and drop, style), settings and the platform
check."""
