// The API key lives in sessionStorage only: it is gone when the browser tab or window closes.

const STORAGE_KEY = "unlearn-audit.api-key";

export function apiKey() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function signIn(key) {
  sessionStorage.setItem(STORAGE_KEY, key.trim());
}

export function signOut() {
  sessionStorage.removeItem(STORAGE_KEY);
}
