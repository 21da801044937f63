/**
 * The status page shell. It carries no data: the script fills it from `v1/status` using text
 * nodes only, so nothing a client sent (slot names, holder labels, values) is ever parsed as
 * HTML. Asset URLs are relative so the page also works behind a path-prefix proxy.
 */
export const statusPageHtml = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>slotlock status</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="status/style.css" />
    <script src="status/app.js" defer></script>
  </head>
  <body>
    <header>
      <h1>slotlock <span class="muted">status</span></h1>
      <span id="conn" class="pill" data-state="connecting">connecting</span>
      <span id="updated" class="muted"></span>
      <span id="replica" class="muted replica"></span>
    </header>
    <noscript><p class="banner">This page needs JavaScript; the same data is at v1/status.</p></noscript>
    <p id="banner" class="banner" hidden></p>
    <main>
      <section id="summary" class="cards" aria-label="Summary"></section>
      <section aria-labelledby="slis-title">
        <h2 id="slis-title">Service level indicators <span id="sli-window" class="muted"></span></h2>
        <table id="slis">
          <colgroup>
            <col class="sli" /><col class="slo" /><col class="val" /><col class="val" />
            <col class="status" /><col class="trend" />
          </colgroup>
          <thead>
            <tr>
              <th>SLI</th>
              <th>SLO</th>
              <th class="num">recent</th>
              <th class="num">since start</th>
              <th>status</th>
              <th>trend (recent, last 60 polls)</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
        <p id="sli-note" class="note"></p>
      </section>
      <div class="columns">
        <section aria-labelledby="slots-title">
          <h2 id="slots-title">Slots <span id="slots-count" class="muted"></span></h2>
          <table id="slots">
            <colgroup>
              <col class="name" /><col class="cap" /><col class="who" /><col class="wait" />
            </colgroup>
            <thead>
              <tr>
                <th>slot</th>
                <th class="num">capacity</th>
                <th>holders</th>
                <th class="num">waiting</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </section>
        <section aria-labelledby="elections-title">
          <h2 id="elections-title">Elections <span id="elections-count" class="muted"></span></h2>
          <table id="elections">
            <colgroup>
              <col class="name" /><col class="who" /><col class="term" /><col class="wait" />
            </colgroup>
            <thead>
              <tr>
                <th>election</th>
                <th>leader</th>
                <th class="num">term</th>
                <th class="num">waiting</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </section>
      </div>
    </main>
    <footer class="muted">
      Polls <a href="v1/status">v1/status</a> every 2 s ·
      <a href="metrics">metrics</a> · <a href="docs/">API docs</a>
    </footer>
  </body>
</html>
`;
