// One small context menu for the whole dashboard: right-click (or the Menu key, or
// Shift+F10 on a focused element) opens it; arrows, Home/End move, Enter activates, Esc
// or a click elsewhere closes it and focus returns where it was. An item that does not
// apply is shown aria-disabled with its reason.
import { h } from "./util.js";

let open = null; // {el, returnTo}

/** Close the open menu (if any); focus goes back to where it came from. */
export function closeMenu(restoreFocus = true) {
  if (!open) return;
  const { el, returnTo } = open;
  open = null;
  el.remove();
  if (restoreFocus && returnTo?.isConnected) returnTo.focus({ preventScroll: true });
}

/**
 * Open a menu at (x, y) with `items`: [{label, action, disabled?: reason}] (null = a
 * separator). `label` names the menu for assistive technology.
 */
export function openMenu(x, y, items, label) {
  closeMenu(false);
  const returnTo = document.activeElement;
  const buttons = [];
  const el = h(
    "div.ctx-menu",
    { role: "menu", "aria-label": label, tabindex: "-1" },
    items.map((it) => {
      if (!it) return h("div.ctx-sep", { role: "separator" });
      const b = h(
        "button.ctx-item",
        {
          type: "button",
          role: "menuitem",
          tabindex: "-1",
          "aria-disabled": it.disabled ? "true" : null,
          title: it.disabled || null,
          onclick: () => {
            if (it.disabled) return;
            closeMenu();
            it.action();
          },
        },
        it.label,
        it.disabled ? h("span.ctx-why", ` — ${it.disabled}`) : null,
      );
      buttons.push(b);
      return b;
    }),
  );
  el.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement);
    const go = (j) => buttons[(j + buttons.length) % buttons.length]?.focus();
    if (e.key === "Escape" || e.key === "Tab") {
      e.preventDefault();
      e.stopPropagation(); // Esc closes the menu, it does not also go back a level
      closeMenu();
    } else if (e.key === "ArrowDown") go(i + 1);
    else if (e.key === "ArrowUp") go(i - 1);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(buttons.length - 1);
    else return;
    e.preventDefault();
  });
  document.body.append(el);
  // Keep it on screen.
  const r = el.getBoundingClientRect();
  el.style.left = `${Math.max(0, Math.min(x, innerWidth - r.width - 4))}px`;
  el.style.top = `${Math.max(0, Math.min(y, innerHeight - r.height - 4))}px`;
  open = { el, returnTo };
  buttons[0]?.focus();
  return el;
}

/** Give `el` a context menu: `items(event)` builds its items when it opens. */
export function contextMenu(el, label, items) {
  el.addEventListener("contextmenu", (e) => {
    if (e.shiftKey) return; // Shift+right-click: the browser's own menu
    e.preventDefault();
    e.stopPropagation();
    openMenu(e.clientX, e.clientY, items(e), label);
  });
  el.addEventListener("keydown", (e) => {
    if (e.key !== "ContextMenu" && !(e.key === "F10" && e.shiftKey)) return;
    e.preventDefault();
    e.stopPropagation();
    const r = (e.target instanceof Element ? e.target : el).getBoundingClientRect();
    openMenu(r.left + 8, r.bottom, items(e), label);
  });
}

document.addEventListener("mousedown", (e) => {
  if (open && !open.el.contains(e.target)) closeMenu(false);
});
window.addEventListener("blur", () => closeMenu(false));
window.addEventListener("resize", () => closeMenu(false));
