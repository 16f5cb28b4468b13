// The REST API of the server that served this page, called with fetch on the same origin.
// The token lives only in this tab's sessionStorage and travels only in the authorization
// header: never in a URL, a cookie or localStorage.
const TOKEN_KEY = "hookgate.token";
const CALL_TIMEOUT_MS = 20000; // a call that hangs fails rather than spinning forever

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  if (t === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, t);
}

// A failed call: status (0 when no answer came), message (the answer's words), and the
// Droplit problems of a 400 ({in, path, message} each) for the fields they concern.
export class ApiError extends Error {
  constructor(status, message, problems = []) {
    super(message);
    this.status = status;
    this.problems = problems;
  }
}

// Calls method path (under /api) with body (an object, sent as JSON) and resolves to the
// answer: the parsed JSON, the text of a text/plain answer, or null for an empty one,
// and its status. Rejects with ApiError.
export async function call(method, path, body) {
  const headers = { authorization: token() ?? "" };
  const init = { method, headers, signal: AbortSignal.timeout(CALL_TIMEOUT_MS), credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api${path}`, init);
  } catch (e) {
    throw new ApiError(0, `The server could not be reached (${e.message}).`);
  }
  const type = res.headers.get("content-type") ?? "";
  const text = await res.text();
  let value = text === "" ? null : text;
  if (type.startsWith("application/json") && text !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, "The server's answer was not JSON.");
    }
  }
  if (!res.ok) {
    if (value !== null && typeof value === "object" && Array.isArray(value.errors)) {
      const problems = value.errors.filter((p) => p && typeof p.message === "string");
      const words = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ");
      throw new ApiError(res.status, words || `${res.status} ${res.statusText}`, problems);
    }
    throw new ApiError(res.status, typeof value === "string" ? value.trim() : `${res.status} ${res.statusText}`);
  }
  return { status: res.status, value };
}
