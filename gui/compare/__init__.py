"""Two models side by side: the compare window, its panes and how their nodes link."""
