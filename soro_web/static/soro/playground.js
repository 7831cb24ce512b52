// Streams the playground reply into the page; without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("playground");
  if (!form || !window.fetch || !window.TextDecoder) return;
  var reply = document.getElementById("reply");
  var errorBox = document.getElementById("reply-error");
  var stats = document.getElementById("reply-stats");
  var send = document.getElementById("send");
  var stop = document.getElementById("stop");
  var controller = null;

  function finish() {
    controller = null;
    send.disabled = false;
    stop.hidden = true;
  }

  function show(event) {
    // Model output is text, never HTML: textContent escapes it.
    if (event.type === "text") {
      reply.textContent += event.text;
    } else if (event.type === "done") {
      var parts = [(event.pieces_per_second || "—") + " " + stats.dataset.labelSpeed,
                   stats.dataset.labelFirst + " " + event.first_piece_seconds + " s"];
      if (event.is_expected_language === false) parts.push(stats.dataset.labelNotTajik);
      stats.textContent = parts.join(" · ");
    } else if (event.type === "error") {
      errorBox.textContent = event.message;
      errorBox.hidden = false;
    }
  }

  stop.addEventListener("click", function () {
    if (controller) controller.abort();
    stats.textContent = stats.dataset.labelStopped;
  });

  form.addEventListener("submit", function (submitEvent) {
    submitEvent.preventDefault();
    reply.textContent = "";
    stats.textContent = "";
    errorBox.hidden = true;
    send.disabled = true;
    stop.hidden = false;
    controller = new AbortController();
    fetch(form.dataset.streamUrl, {method: "POST", body: new FormData(form),
                                   signal: controller.signal, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(function (data) {
            var messages = [];
            Object.keys(data.errors || {}).forEach(function (k) {
              data.errors[k].forEach(function (m) { messages.push(m); });
            });
            show({type: "error", message: messages.join(" ")});
          });
        }
        return window.soroReadEvents(response, show);
      })
      .catch(function (error) { if (error.name !== "AbortError") show({type: "error", message: String(error)}); })
      .then(finish);
  });
})();
