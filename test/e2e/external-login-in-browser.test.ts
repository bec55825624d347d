/**
 * External login in a real browser (headless Chromium): the test page served
 * by the Node server calls StartExternalLogin over Connect JSON, the browser
 * goes through the provider's login form, comes back through the server's
 * callback with a hand-off code, and the page completes the login and shows
 * the user from GetCurrentUser.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { unique } from "../support/rpc-calls.js";
import { startExternalLoginWorld, type ExternalLoginWorld } from "../support/external-login-setup.js";

let world: ExternalLoginWorld;
let browser: BrowserContext;
let profileDir: string;

beforeAll(async () => {
  world = await startExternalLoginWorld();
  profileDir = await mkdtemp(join(tmpdir(), "latchkey-chromium-"));
  // A fresh profile directory (--user-data-dir) per run.
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await world?.stop();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

it("signs a new user in through the provider's login form and shows who is signed in", async () => {
  const sub = unique("browser");
  const email = `${sub}@example.test`;
  world.providerA.accounts.set(sub, { email, email_verified: true, name: "Browser Person" });
  const page = await browser.newPage();
  const connectCalls: string[] = [];
  page.on("request", (request) => {
    if (request.url().includes("/latchkey.auth.v1.AuthService/")) connectCalls.push(new URL(request.url()).pathname);
  });

  await page.goto(world.testPageUrl);
  await page.fill("#provider", "alpha");
  await page.click("button[type=submit]");

  // The provider's own login form.
  await page.waitForURL((url) => url.href.startsWith(world.providerA.issuer));
  await page.fill("input[name=login]", sub);
  await page.fill("input[name=password]", "any password");
  await page.click("button[type=submit]");

  await page.locator("#status", { hasText: "signed in" }).waitFor({ timeout: 15_000 });
  expect(await page.textContent("#user")).toBe(email);
  // The page cleaned the hand-off code out of its address.
  expect(page.url()).toBe(world.testPageUrl);
  expect(connectCalls).toEqual([
    "/latchkey.auth.v1.AuthService/StartExternalLogin",
    "/latchkey.auth.v1.AuthService/CompleteExternalLogin",
    "/latchkey.auth.v1.AuthService/GetCurrentUser",
  ]);
  await page.close();
}, 60_000);
