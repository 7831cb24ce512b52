// The main menu folds behind a button on phones (CSS shows the button below 48rem). Without
// JavaScript the menu simply stays open, so every link is always reachable.
(function () {
  "use strict";
  var bar = document.querySelector("header.bar");
  var button = bar && bar.querySelector(".menu-toggle");
  if (!button) return;
  bar.classList.add("collapsible");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = bar.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
