// The lesson builder: drafts stream into the section as the model writes them. Without
// JavaScript the draft form posts normally and the builder comes back with the result.
(function () {
  "use strict";
  // An autosave that never reached the server (no connection, the section is gone) must not
  // keep showing "Saved": say so, keep the text in the page, and warn before leaving it.
  function unsaved(event) {
    var form = event.target && event.target.closest && event.target.closest(".section-form");
    if (!form) return;
    var state = document.getElementById(form.id.replace("form-", "save-"));
    if (state) {
      state.textContent = form.dataset.unsaved;
      state.className = "save-state error";
    }
    window.onbeforeunload = function () { return form.dataset.unsaved; };
  }
  document.addEventListener("htmx:responseError", unsaved);
  document.addEventListener("htmx:sendError", unsaved);
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target && event.target.closest && event.target.closest(".section-form");
    if (form && event.detail && event.detail.successful) {
      window.onbeforeunload = null;
      delete form.dataset.dirty;
    }
  });

  // Typing is saved 800 ms after the last key. A button that redraws sections (move, add,
  // remove, use this text, insert passages) would drop that pending save with the old form,
  // so unsaved sections are saved first and the button's request follows.
  function sectionForm(element) {
    return element && element.closest ? element.closest(".section-form") : null;
  }
  document.addEventListener("input", function (event) {
    var form = sectionForm(event.target);
    if (form) form.dataset.dirty = "1";
  });
  document.addEventListener("htmx:confirm", function (event) {
    var source = event.target;
    if (!window.htmx || sectionForm(source)) return;
    if (source.closest && source.closest("[id^=conflict-]")) return;
    var dirty = Array.prototype.filter.call(
      document.querySelectorAll(".section-form[data-dirty]"),
      function (form) {
        var conflict = document.getElementById(form.id.replace("form-", "conflict-"));
        return !(conflict && conflict.querySelector(".conflict"));
      }
    );
    if (!dirty.length) return;
    event.preventDefault();
    var pending = dirty.length;
    dirty.forEach(function (form) {
      form.addEventListener("htmx:afterRequest", function done() {
        form.removeEventListener("htmx:afterRequest", done);
        pending -= 1;
        if (pending === 0) event.detail.issueRequest();
      });
      delete form.dataset.dirty;
      window.htmx.trigger(form, "submit");
    });
  });

  if (!window.fetch || !window.TextDecoder) return;

  function refresh(section, part) {
    if (!window.htmx) { window.location.reload(); return; }
    var url = section.dataset.url;
    if (part === "proposal") {
      var target = section.querySelector(".proposal");
      window.htmx.ajax("GET", url + "?part=proposal", {target: target, swap: "outerHTML"});
    } else {
      window.htmx.ajax("GET", url, {target: section, swap: "outerHTML"});
    }
  }

  function draft(form) {
    var section = form.closest(".lesson-section");
    if (!section || section.dataset.drafting) return;
    var stream = section.querySelector("[data-stream]");
    var errorBox = section.querySelector("[data-error]");
    var button = form.querySelector("button[type=submit]");
    var stop = form.querySelector("[data-stop]");
    var label = button.textContent;
    var controller = window.AbortController ? new AbortController() : null;
    var pieces = 0;
    section.dataset.drafting = "1";
    button.disabled = true;
    button.textContent = button.dataset.labelBusy || label;
    errorBox.hidden = true;
    stream.textContent = "";
    stream.dataset.pieces = "0";
    if (stop && controller) {
      stop.hidden = false;
      stop.onclick = function () { controller.abort(); };
    }
    // From the first second: how long the model has been at it (a small model on a busy
    // server can take a minute or two), next to the Stop button.
    var elapsed = form.querySelector("[data-elapsed]");
    var started = Date.now();
    var timer = null;
    function tick() {
      if (!elapsed) return;
      var seconds = Math.floor((Date.now() - started) / 1000);
      elapsed.textContent = elapsed.dataset.label + ": " + seconds + " " + elapsed.dataset.unit;
    }
    if (elapsed) {
      elapsed.hidden = false;
      tick();
      timer = window.setInterval(tick, 1000);
    }

    function fail(message) {
      // Model output and messages are text, never HTML: textContent escapes them.
      errorBox.textContent = message;
      errorBox.hidden = false;
      var insert = section.querySelector("[data-insert]");
      var ungrounded = form.querySelector("input[name=ungrounded]");
      if (ungrounded) ungrounded.focus(); else if (insert) insert.focus();
    }

    function show(event) {
      if (event.type === "start") {
        stream.hidden = false;
      } else if (event.type === "text") {
        // The model often starts with a line break: the box does not start with a blank line.
        stream.textContent = (stream.textContent + event.text).replace(/^\s+/, "");
        pieces += 1;
        stream.dataset.pieces = String(pieces);
      } else if (event.type === "no_passages" || event.type === "error") {
        fail(event.message);
        if (event.kept) refresh(section, "proposal");  // what arrived waits as a proposal
      } else if (event.type === "saved") {
        if (event.message) fail(event.message);
        section.dataset.saved = event.mode;
        if (event.mode === "body") {
          refresh(section, "section");
        } else {
          stream.hidden = true;
          refresh(section, "proposal");
        }
      }
    }

    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                        headers: {"Accept": "application/x-ndjson"},
                        signal: controller ? controller.signal : undefined})
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function () { fail(response.status + " " + response.statusText); });
        }
        return window.soroReadEvents(response, show);
      })
      .catch(function (error) {
        if (error.name !== "AbortError") { fail(String(error)); return; }
        // Stopped: the server keeps what arrived as a proposal once it notices.
        window.setTimeout(function () { refresh(section, "proposal"); }, 1500);
      })
      .then(function () {
        if (timer) window.clearInterval(timer);
        if (elapsed) elapsed.hidden = true;
        if (stop) stop.hidden = true;
        delete section.dataset.drafting;
        button.disabled = false;
        button.textContent = label;
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.matches && form.matches("form[data-draft]")) {
      event.preventDefault();
      draft(form);
    }
  });
})();
