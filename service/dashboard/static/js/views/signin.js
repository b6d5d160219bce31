// Sign-in: paste an API key. It is checked against the API and kept in sessionStorage only.

import { getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { signIn, signOut } from "../session.js";

export function signinView(main, next) {
  const input = h("input", { type: "password", id: "api-key", name: "api-key", autocomplete: "off", required: true,
    "aria-describedby": "api-key-hint api-key-error" });
  const problem = h("p", { class: "field-error", id: "api-key-error", role: "alert", hidden: true });
  const form = h("form", { id: "signin", class: "narrow-form" },
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input,
      h("p", { class: "hint", id: "api-key-hint" }, "Created with `unlearn-audit keys create --tenant NAME`. "
        + "Kept in this browser tab only, and forgotten when it closes."), problem),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    signIn(input.value);
    try {
      await getJson("/v1/audits?limit=1");
    } catch (error) {
      signOut();
      problem.textContent = error.status === 401 ? "✗ This key is not valid (unknown or revoked)." : `✗ ${error.message}`;
      problem.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    window.dispatchEvent(new CustomEvent("signed-in"));
    location.hash = next || "#/audits";
  });
  mount(main, h("h1", {}, "Sign in"), form);
  input.focus();
}
