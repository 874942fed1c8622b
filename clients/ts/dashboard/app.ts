// The dashboard served by `commy serve` at `/`: sign in to a tenant, then watch and edit its variables live.

import { connect } from "../src/index.js";
import type { Client, ConnectOptions, Status } from "../src/index.js";
import { byId } from "./dom.js";
import { Tree } from "./tree.js";

const SESSION_KEY = "commy.dashboard.session";
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

interface Session {
  tenant: string;
  key: string;
}

const form = byId("form", "sign-in");
const tenantInput = byId("input", "tenant");
const keyInput = byId("input", "key");
const signInError = byId("p", "sign-in-error");
const banner = byId("p", "banner");
const tools = byId("div", "tools");
const search = byId("input", "search");
const pause = byId("button", "pause");
const signOut = byId("button", "sign-out");
const treeRoot = byId("section", "tree");

let client: Client | undefined;
let tree: Tree | undefined;
let timers: ReturnType<typeof setInterval>[] = [];

function serverUrl(): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

function showStatus(status: Status | "signed-out"): void {
  const offline = status === "reconnecting" && !navigator.onLine;
  const state = offline ? "offline" : status;
  const words: Record<string, string> = {
    "signed-out": "Signed out",
    connecting: "Connecting…",
    open: "Connected",
    reconnecting: "Reconnecting…",
    offline: "Offline: waiting for the network",
    closed: "Disconnected",
  };
  banner.dataset.state = state;
  banner.textContent = words[state] ?? state;
}

async function signIn(session: Session): Promise<void> {
  signInError.textContent = "";
  showStatus("connecting");
  const credential: Pick<ConnectOptions, "apiKey" | "getToken"> = JWT_SHAPE.test(session.key)
    ? { getToken: () => session.key }
    : { apiKey: session.key };
  try {
    client = await connect(serverUrl(), { tenant: session.tenant, ...credential, clientVersion: "commy-dashboard" });
  } catch (error) {
    showStatus("signed-out");
    signInError.textContent = error instanceof Error ? error.message : String(error);
    sessionStorage.removeItem(SESSION_KEY);
    return;
  }
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  client.on("status", showStatus);
  showStatus(client.status);
  form.hidden = true;
  tools.hidden = false;
  treeRoot.hidden = false;
  tree = new Tree(treeRoot, client);
  const current = tree;
  const refresh = () => current.refresh().catch((error: unknown) => console.warn("commy dashboard: refresh", error));
  await refresh();
  timers = [setInterval(() => current.tick(), 1_000), setInterval(() => void refresh(), 5_000)];
  search.focus();
}

async function end(): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  tree?.stop();
  tree = undefined;
  const old = client;
  client = undefined;
  sessionStorage.removeItem(SESSION_KEY);
  await old?.close();
  keyInput.value = "";
  form.hidden = false;
  tools.hidden = true;
  treeRoot.hidden = true;
  showStatus("signed-out");
  tenantInput.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  void signIn({ tenant: tenantInput.value.trim(), key: keyInput.value.trim() });
});
signOut.addEventListener("click", () => void end());
search.addEventListener("input", () => tree?.filter(search.value));
pause.addEventListener("click", () => {
  const paused = pause.getAttribute("aria-pressed") !== "true";
  pause.setAttribute("aria-pressed", String(paused));
  pause.textContent = paused ? "Paused" : "Pause";
  tree?.setPaused(paused);
});
window.addEventListener("offline", () => client && showStatus(client.status));

const saved = sessionStorage.getItem(SESSION_KEY);
if (saved) {
  try {
    const session = JSON.parse(saved) as Session;
    tenantInput.value = session.tenant;
    void signIn(session);
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
  }
} else {
  tenantInput.focus();
}
