"""The page's own CSS: the figure cards' grid and the map legends' icons (a static string)."""

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
.nemlive-legend img {vertical-align: middle;}
</style>
"""
