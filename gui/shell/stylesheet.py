"""The main window's style sheet: the breadcrumb and find bars, the welcome page and the
status bar labels, addressed by their object names."""

from __future__ import annotations

STYLE_SHEET = """
#breadcrumbBar, #findBar { border-bottom: 1px solid palette(mid); background: palette(window); }
#breadcrumbBar QToolButton[current="true"] { font-weight: bold; color: palette(text); }
#crumbSeparator { color: palette(mid); }
#welcomeTitle { font-size: 26pt; font-weight: 300; }
#welcomeSubtitle { color: palette(placeholder-text); font-size: 11pt; }
#welcomeHeading { font-size: 9pt; font-weight: bold; color: palette(placeholder-text);
                  text-transform: uppercase; letter-spacing: 1px; }
#welcomeList, #welcomeSamples { background: transparent; font-size: 11pt; }
#welcomeList::item { padding: 5px 2px; }
#welcomeList QScrollBar:vertical, #welcomeSamples QScrollBar:vertical
    { background: transparent; width: 10px; margin: 0; }
#welcomeList QScrollBar::handle:vertical, #welcomeSamples QScrollBar::handle:vertical
    { background: palette(mid); border-radius: 4px; min-height: 24px; margin: 0 1px; }
#welcomeList QScrollBar::handle:vertical:hover, #welcomeSamples QScrollBar::handle:vertical:hover
    { background: palette(dark); }
#welcomeList QScrollBar::add-line:vertical, #welcomeList QScrollBar::sub-line:vertical,
#welcomeSamples QScrollBar::add-line:vertical, #welcomeSamples QScrollBar::sub-line:vertical
    { height: 0; }
#welcomeList QScrollBar::add-page:vertical, #welcomeList QScrollBar::sub-page:vertical,
#welcomeSamples QScrollBar::add-page:vertical, #welcomeSamples QScrollBar::sub-page:vertical
    { background: none; }
#statusModel { font-weight: bold; }
#statusBusy { color: palette(placeholder-text); }
"""

__all__ = ["STYLE_SHEET"]
