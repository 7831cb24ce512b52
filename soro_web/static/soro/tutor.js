// The tutor and teacher chat: a message is sent and its reply streams into the page.
// Without JavaScript the form posts normally and the page comes back with the reply.
(function () {
  "use strict";
  var form = document.getElementById("chat-form");
  if (!form || !window.fetch || !window.TextDecoder) return;
  var chat = document.getElementById("chat");
  var input = form.querySelector("textarea");
  var errorBox = document.getElementById("chat-error");
  var send = document.getElementById("send");
  var stop = document.getElementById("stop");
  var controller = null;

  function item(role, label) {
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.className = "chat-message " + role;
    li.dataset.role = role;
    var who = document.createElement("p");
    who.className = "muted";
    who.textContent = label;
    var body = document.createElement("div");
    body.className = "reply";
    li.appendChild(who);
    li.appendChild(body);
    chat.appendChild(li);
    return li;
  }

  function note(li, className, text) {
    var p = document.createElement("p");
    p.className = className;
    p.textContent = text;
    li.appendChild(p);
  }

  function sourcesLine(li, sources) {
    if (!sources || !sources.length) return;
    var p = document.createElement("p");
    p.className = "sources";
    p.appendChild(document.createTextNode(form.dataset.labelSources + ": "));
    sources.forEach(function (source, index) {
      if (index) p.appendChild(document.createTextNode("; "));
      var a = document.createElement("a");
      a.href = source.url;
      a.dataset.citation = "";
      a.textContent = source.citation;
      p.appendChild(a);
    });
    li.appendChild(p);
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function finish() {
    controller = null;
    send.disabled = false;
    stop.hidden = true;
  }

  stop.addEventListener("click", function () {
    if (controller) controller.abort();
  });

  form.addEventListener("submit", function (submitEvent) {
    submitEvent.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    errorBox.hidden = true;
    send.disabled = true;
    stop.hidden = false;
    var body = new FormData(form);
    var mine = item("user", form.dataset.labelYou);
    mine.querySelector(".reply").textContent = text;
    var reply = null, sources = [], received = false;
    controller = new AbortController();
    fetch(form.dataset.streamUrl, {method: "POST", body: body, signal: controller.signal,
                                   credentials: "same-origin",
                                   headers: {"Accept": "application/x-ndjson"}})
      .then(function (response) {
        if (!response.ok) {
          mine.remove();
          return response.json().then(function (data) {
            var messages = [];
            Object.keys(data.errors || {}).forEach(function (k) {
              data.errors[k].forEach(function (m) { messages.push(m); });
            });
            showError(messages.join(" "));
          });
        }
        input.value = "";
        reply = item("assistant", form.dataset.labelBot);
        reply.setAttribute("aria-live", "polite");
        return window.soroReadEvents(response, function (event) {
          // Model output is text, never HTML: textContent escapes it.
          if (event.type === "start") {
            sources = event.sources || [];
          } else if (event.type === "text") {
            received = true;
            reply.querySelector(".reply").textContent += event.text;
          } else if (event.type === "saved") {
            if (event.flagged) reply.dataset.safety = "";
            else sourcesLine(reply, sources);
            if (event.warning) note(reply, "error", event.warning);
            reply.dataset.saved = event.message;
          } else if (event.type === "error") {
            if (event.kept) sourcesLine(reply, sources);
            showError(event.message);
          }
        });
      })
      .catch(function (error) {
        if (error.name === "AbortError") {
          if (reply && received) { sourcesLine(reply, sources); note(reply, "muted", form.dataset.labelStopped); }
        } else {
          showError(String(error));
        }
      })
      .then(finish);
  });
})();
