"""Every figure: data in, matplotlib Figure out, one look (src.viz.style)."""
