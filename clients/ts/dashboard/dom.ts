// Small DOM helpers: elements are built with textContent only, so no value from the server is ever parsed as HTML.

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function byId<K extends keyof HTMLElementTagNameMap>(tag: K, id: string): HTMLElementTagNameMap[K] {
  const node = document.getElementById(id);
  if (node?.tagName.toLowerCase() !== tag) throw new Error(`the page has no <${tag} id="${id}">`);
  return node as HTMLElementTagNameMap[K];
}

/** "just now", "12 s ago", "3 min ago", "2 h ago". */
export function ago(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}
