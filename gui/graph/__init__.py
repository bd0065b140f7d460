"""The graph view: layout (Qt-free maths), the scene item, the view, minimap, colours,
overlays, the live (eager) graph and headless rendering."""
