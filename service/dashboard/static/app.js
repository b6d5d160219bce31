// The dashboard's entry point: a hash router over the pages, the sign-in state in the header.

import { h, mount } from "./js/dom.js";
import { apiKey, signOut } from "./js/session.js";
import { auditView } from "./js/views/audit.js";
import { listView } from "./js/views/list.js";
import { signinView } from "./js/views/signin.js";
import { submitView } from "./js/views/submit.js";

const main = document.getElementById("main");
const account = document.getElementById("account");
let leavePage = () => {};

function renderAccount() {
  if (!apiKey()) {
    mount(account, h("a", { href: "#/signin" }, "Sign in"));
    return;
  }
  const button = h("button", { type: "button", class: "link", id: "sign-out" }, "Sign out");
  button.addEventListener("click", () => {
    signOut();
    renderAccount();
    location.hash = "#/signin";
  });
  mount(account, h("span", { class: "muted" }, "signed in "), button);
}

function route() {
  if (location.hash && !location.hash.startsWith("#/")) return; // an in-page anchor, not a page
  leavePage();
  leavePage = () => {};
  const [path, queryText] = (location.hash.slice(1) || "/audits").split("?");
  const query = new URLSearchParams(queryText ?? "");
  for (const link of document.querySelectorAll("header nav a")) {
    link.toggleAttribute("aria-current", path.startsWith(link.getAttribute("href").slice(1)));
  }
  if (path === "/signin") return signinView(main, query.get("next"));
  if (!apiKey()) {
    location.hash = `#/signin?next=${encodeURIComponent(location.hash || "#/audits")}`;
    return;
  }
  const auditMatch = path.match(/^\/audits\/([^/]+)$/);
  if (auditMatch) leavePage = auditView(main, decodeURIComponent(auditMatch[1]));
  else if (path === "/new") submitView(main);
  else leavePage = listView(main, query);
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
window.addEventListener("signed-in", renderAccount);
window.addEventListener("auth-required", () => {
  if (!location.hash.startsWith("#/signin")) {
    signOut();
    renderAccount();
    location.hash = `#/signin?next=${encodeURIComponent(location.hash)}`;
  }
});
renderAccount();
route();
