/** The status page's stylesheet (inline: the page loads nothing else). */
export const PAGE_STYLE = `
:root { color-scheme: light; --ok: #17803d; --bad: #b42318; --off: #667085; --line: #d0d5dd; --fill: #2e90fa; --due: #f79009; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; color: #101828; background: #f9fafb; }
header { padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 14px; padding: 14px 20px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; overflow-x: auto; }
#controllers, #overlay { grid-column: 1 / -1; }
.meta, .note, .live { color: #475467; margin: 2px 0; }
.live { font-size: 12px; }
.state { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; color: #fff; background: var(--off); vertical-align: middle; }
td.ok, dd.ok, span.ok { color: var(--ok); } td.bad, dd.bad, span.bad, li.bad, .problem { color: var(--bad); }
span.state.ok { color: #fff; background: var(--ok); } span.state.bad { color: #fff; background: var(--bad); } span.state.off { color: #fff; background: var(--off); }
.problem { margin: 4px 0 8px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: #475467; } dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin-top: 4px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaecf0; vertical-align: top; overflow-wrap: break-word; }
th { font-weight: 600; color: #475467; font-size: 12px; white-space: nowrap; }
ul { margin: 4px 0; padding-left: 20px; overflow-wrap: anywhere; }
.warnings { color: var(--due); }
.lifetime { margin-top: 10px; }
.bar { width: 100%; height: 24px; display: block; }
.bar .track { fill: #eaecf0; } .bar .elapsed { fill: var(--fill); } .bar .due { fill: var(--due); } .bar .expired { fill: var(--bad); }
.bar .rotation { stroke: #101828; stroke-width: 4; }
.legend { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; font-size: 12px; color: #475467; }
.lifetime p { margin: 4px 0 0; }
.charts { display: flex; gap: 16px; flex-wrap: wrap; margin: 10px 0; }
.chart { margin: 0; }
.chart figcaption { font-size: 12px; color: #475467; }
.chart .plot { fill: #f2f4f7; }
.chart .series { fill: none; stroke: var(--fill); stroke-width: 1.5; }
.axis { display: flex; justify-content: space-between; font-size: 11px; color: #98a2b3; width: 300px; }
`;
