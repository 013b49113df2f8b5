"""The page's own CSS: the figure cards' grid and changes, the map legends (a static string).
The wall view adds its own (``wall.WALL_CSS``)."""

CSS = """
<style>
.nl-cards {display: grid; gap: 1rem; margin-bottom: 0.5rem;}
.nl-cols-4 {grid-template-columns: repeat(4, minmax(0, 1fr));}
.nl-cols-2 {grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.6rem;}
.nl-card {background: rgba(120,144,156,0.08); border-radius: 8px; padding: 8px 12px; min-width: 0;}
.nl-card[title] .nl-card-label {text-decoration: underline dotted rgba(49,51,63,0.4); cursor: help;}
.nl-card-label {font-size: 0.875rem; color: rgba(49,51,63,0.75); overflow: hidden; text-overflow: ellipsis; white-space: nowrap;}
.nl-card-value {font-size: 1.45rem; line-height: 1.6; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;}
.nl-cols-2 .nl-card-value {font-size: 1.25rem;}
.nl-card-change {font-size: 0.8rem; line-height: 1.3; white-space: nowrap;}
.nl-good {color: #15803d;} .nl-bad {color: #b91c1c;} .nl-neutral {color: rgba(49,51,63,0.6);}
.nemlive-legend img {vertical-align: middle;}
.nl-price-legend {display: flex; flex-wrap: wrap; align-items: center; gap: 4px 14px; font-size: 0.82rem;}
.nl-price-title {font-weight: 600;}
.nl-price-end {display: inline-flex; align-items: center; gap: 4px;}
.nl-swatch {display: inline-block; width: 1.1em; height: 1.1em; border-radius: 3px;}
.nl-scale {display: inline-flex; flex-direction: column; width: 18rem; padding: 0 1.2em;}
.nl-bar {display: block; height: 0.9em; border-radius: 3px;}
.nl-ticks {position: relative; height: 1.3em;}
.nl-tick {position: absolute; transform: translateX(-50%); white-space: nowrap;}
.nl-price-note {color: rgba(49,51,63,0.7);}
</style>
"""
