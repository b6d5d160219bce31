// Element construction without innerHTML: every string from the API is inserted as text.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(element, attributes) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("td", {class: "num"}, "0.52"). */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  apply(element, attributes);
  return append(element, children);
}

/** An SVG element, same calling shape as h(). */
export function s(tag, attributes, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, attributes);
  return append(element, children);
}

/** Replace everything inside `container` with `children`. */
export function mount(container, ...children) {
  container.replaceChildren();
  return append(container, children);
}
