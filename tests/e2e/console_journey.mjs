// The console, tried as a new administrator would, in Debian's Chromium
// (playwright-core drives the system browser; nothing is downloaded).
// Started by tests/api/console.rs with:
//   BASE, ACCOUNT, EMAIL, PASSWORD, TOTP_SECRET  the app and its break-glass admin
//   ISSUER                                       the oidc-provider peer
//   SHOTS                                        where to write screenshots
// Prints one JSON line of findings; exits non-zero on the first failed step.
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";

const env = (k) => {
  if (!process.env[k]) throw new Error(`missing ${k}`);
  return process.env[k];
};
const BASE = env("BASE"), ACCOUNT = env("ACCOUNT"), SHOTS = env("SHOTS");
mkdirSync(SHOTS, { recursive: true });

function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const out = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

// RFC 6238, 30 s steps, 6 digits, SHA-1: what an authenticator app shows.
function totp(secret, offsetSteps = 0) {
  const step = Math.floor(Date.now() / 30000) + offsetSteps;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac("sha1", base32(secret)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = (h.readUInt32BE(o) & 0x7fffffff) % 1000000;
  return String(n).padStart(6, "0");
}

const findings = {};
const check = (cond, what) => {
  if (!cond) throw new Error(`failed: ${what}`);
};

// Submits a same-origin form built in the page (the CSP allows no fetch);
// the console's answer: status and text.
async function postForm(page, action, fields) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(action) && r.request().method() === "POST"),
    page.evaluate(({ action, fields }) => {
      const f = document.createElement("form");
      f.method = "post";
      f.action = action;
      for (const [k, v] of Object.entries(fields)) {
        const i = document.createElement("input");
        i.name = k;
        i.value = v;
        f.appendChild(i);
      }
      document.body.appendChild(f);
      f.submit();
    }, { action, fields }),
  ]);
  await page.waitForLoadState("domcontentloaded");
  return { status: resp.status(), text: await page.textContent("body") };
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

// The oidc-provider peer's dev login and consent forms.
async function idpLogin(page, email) {
  for (let i = 0; i < 6; i++) {
    await page.waitForLoadState("domcontentloaded");
    if (!page.url().startsWith(env("ISSUER"))) return;
    const login = page.locator('input[name="login"]');
    if (await login.count()) {
      await login.fill(email);
      await page.fill('input[name="password"]', "any");
    }
    await Promise.all([page.waitForNavigation(), page.locator('button[type="submit"]').first().click()]);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await admin.newPage();

  // 1. Break-glass sign-in with TOTP.
  await page.goto(`${BASE}/?account=${ACCOUNT}`);
  await shot(page, "01-sign-in");
  await page.fill("#email", env("EMAIL"));
  await page.fill("#password", env("PASSWORD"));
  await page.fill("#totp", totp(env("TOTP_SECRET")));
  await Promise.all([page.waitForURL(`${BASE}/console`), page.click('section[aria-labelledby="local-h"] button[type="submit"]')]);
  check(await page.locator(".banner").isVisible(), "break-glass banner");
  await shot(page, "02-overview");

  // 2. Connect the OIDC provider: paste-in values, a SCIM token minted on the spot.
  await page.click('nav >> text=Identity provider');
  await page.click("text=Another OpenID Connect provider");
  check((await page.textContent("#redirect-uri")).endsWith("/sso/callback"), "redirect URI shown");
  await page.click("text=Mint a SCIM token");
  const scimToken = (await page.textContent("#scim-token")).trim();
  check(scimToken.startsWith("idbs_"), "SCIM token shown once");
  // Bad input: a plain-http issuer is refused next to the field, nothing saved.
  await page.fill("#issuer", "http://idp.example.com");
  await page.fill("#client_id", "idbridge");
  await page.fill("#client_secret", "e2e-secret");
  await page.click("text=Save connection");
  check(await page.locator("#issuer-error").isVisible(), "issuer error next to the field");
  findings.issuer_error = (await page.textContent("#issuer-error")).trim();
  await shot(page, "03-connect-idp");
  await page.fill("#issuer", env("ISSUER"));
  await page.fill("#client_secret", "e2e-secret");
  await page.fill("#scopes", "groups");
  await page.selectOption("#role_source", "both");
  await Promise.all([page.waitForURL(/\/console\/connections\?created=/), page.click("text=Save connection")]);
  // Test it: a real round trip in a new tab; no session is created.
  const [tab] = await Promise.all([admin.waitForEvent("page"), page.click("#test-new")]);
  await idpLogin(tab, "dev@acme.test");
  await tab.waitForSelector("#decision");
  findings.test_email = (await tab.textContent("#claim-email")).trim();
  findings.test_groups = (await tab.textContent("#claim-groups")).trim();
  await shot(tab, "04-connection-test");
  await tab.close();

  // 3. A custom role inheriting Standard User with two privileges.
  await page.click('nav >> text=Roles & environments');
  if (await page.locator("#aus-note").count()) {
    await page.click("text=Turn on Advanced User Security");
  }
  await page.click('form[action="/console/roles"] button[type="submit"]');
  check(await page.locator("#name-error").isVisible(), "empty role name refused next to the field");
  await page.fill("#name", "Integration Developer");
  await page.selectOption("#inherits", "Standard User");
  await page.check('input[name="privileges"][value="Dashboard"]');
  await page.check('input[name="privileges"][value="Build Read Access"]');
  await page.click('form[action="/console/roles"] button[type="submit"]');
  check((await page.textContent("ul.roles")).includes("Integration Developer"), "role listed");
  // And one for a team lead who manages users within their own privileges.
  await page.fill("#name", "Team Lead");
  await page.check('input[name="privileges"][value="User Management - Limited"]');
  await page.click('form[action="/console/roles"] button[type="submit"]');
  check((await page.textContent("ul.roles")).includes("Team Lead"), "second role listed");
  await shot(page, "05-roles");

  // 4. Map the IdP group to it (preview first).
  await page.click('nav >> text=Group mappings');
  await page.fill("#group", "Engineers");
  await page.check('input[name="roles"][value="Integration Developer"]');
  await page.click('button[value="preview"]');
  check(await page.locator("#preview").isVisible(), "preview shown");
  await page.click('button[value="save"]');
  check((await page.textContent("table")).includes("Engineers"), "mapping listed");
  await shot(page, "06-mappings");

  // 5. The IdP pushes a user into that group over SCIM.
  const scim = async (method, path, body) => {
    const r = await fetch(`${BASE}/scim/v2${path}`, { method, headers: { authorization: `Bearer ${scimToken}`, "content-type": "application/scim+json" }, body: JSON.stringify(body) });
    const text = await r.text();
    check(r.ok, `SCIM ${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const dev = await scim("POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "dev@acme.test", emails: [{ value: "dev@acme.test", primary: true }] });
  await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Engineers", members: [{ value: dev.id }] });
  const lim = await scim("POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "lim@acme.test", roles: [{ value: "Team Lead" }] });
  findings.limited_user = lim.id;

  // 6. That user's access, explained.
  await page.click('nav >> text=Users');
  await page.fill("#q", "dev");
  await page.click('form[role="search"] button');
  await page.click("text=dev@acme.test");
  const privileges = await page.textContent("#privileges");
  const roles = await page.textContent("#roles");
  findings.explained_roles = roles.replace(/\s+/g, " ").trim();
  check(privileges.includes("DASHBOARD") && privileges.includes("BUILD_READ_ACCESS"), "added privileges explained");
  check(roles.includes("Integration Developer") && roles.includes("Engineers"), `through the SCIM group: ${roles}`);
  await shot(page, "07-user-access");

  // 7. Create and revoke a SCIM token; the IdP's token shows when it was last used.
  await page.click('nav >> text=Tokens & keys');
  findings.tokens_last_used = await page.$$eval("#scim-tokens tbody td:nth-child(4)", (tds) => tds.map((t) => t.textContent.trim()));
  await page.click("text=Create SCIM token");
  const created = (await page.textContent("#new-secret")).trim();
  check(created.startsWith("idbs_"), "new token shown");
  const revokeButtons = page.locator('#scim-tokens button:has-text("Revoke")');
  const before = await revokeButtons.count();
  await revokeButtons.last().click();
  check((await page.locator('#scim-tokens button:has-text("Revoke")').count()) === before - 1, "token revoked");
  await shot(page, "08-credentials");

  // 7b. A webhook endpoint: an internal address is refused next to the field; a public one shows its secret once.
  await page.click('nav >> text=Webhooks');
  await page.fill("#url", "http://127.0.0.1:9/hook");
  await page.click('form[action="/console/webhooks"] button[type="submit"]');
  check(await page.locator("#url-error").isVisible(), "internal webhook URL refused next to the field");
  await page.fill("#url", "https://93.184.216.34/hook");
  await page.fill("#types", "user.created, user.access_changed");
  await page.click('form[action="/console/webhooks"] button[type="submit"]');
  findings.webhook_secret = (await page.textContent("#webhook-secret")).trim().slice(0, 6);
  await shot(page, "09-webhooks");

  // 8. Every one of those actions in the audit log, and its export.
  await page.click('nav >> text=Audit log');
  findings.audit_actions = [...new Set(await page.$$eval("#audit tbody td:nth-child(3)", (tds) => tds.map((t) => t.textContent.trim())))];
  await shot(page, "10-audit");
  await page.selectOption("#outcome", "success");
  await page.fill("#action", "role.create");
  await page.click('form.filters button');
  check((await page.locator("#audit tbody tr").count()) === 2, "filtered to the two successful role.create");
  const csv = await page.request.get(`${BASE}/console/audit/export?format=csv`);
  check(csv.ok() && (await csv.text()).startsWith("id,at,actor,action"), "CSV export");

  // 9. Forged forms change nothing: from another site, and without the token.
  await page.route("http://evil.test/**", (route) =>
    route.fulfill({ contentType: "text/html", body: `<form id=f method=post action="${BASE}/console/roles"><input name=name value="Forged Role"><input name=inherits value="Standard User"><input name=_csrf value="guess"></form><script>document.getElementById('f').submit()</script>` }));
  const forged = await page.goto("http://evil.test/");
  await page.waitForLoadState("domcontentloaded");
  findings.cross_site_status = (await page.waitForResponse((r) => r.url() === `${BASE}/console/roles`).catch(() => null))?.status() ?? null;
  await page.goto(`${BASE}/console/roles`);
  findings.missing_token_status = (await postForm(page, "/console/roles", { name: "Forged Role", inherits: "Standard User" })).status;
  findings.forged_landing = forged ? forged.url() : null;

  // 10. A User Management - Limited user sees and does only what the API lets them.
  const limited = await browser.newContext();
  const lp = await limited.newPage();
  await lp.goto(`${BASE}/sso/${ACCOUNT}/login?return_to=/console`);
  await idpLogin(lp, "lim@acme.test");
  await lp.waitForURL(`${BASE}/console`);
  const nav = await lp.textContent("nav");
  findings.limited_nav = nav.replace(/\s+/g, " ").trim();
  await lp.goto(`${BASE}/console/audit`);
  findings.limited_audit = (await lp.textContent("main")).includes("missing privilege");
  await lp.goto(`${BASE}/console/credentials`);
  findings.limited_token_button = await lp.locator("text=Create SCIM token").count();
  // Posting the form anyway (with a valid token of this session) is refused by the API.
  const csrf = await lp.locator('input[name="_csrf"]').first().getAttribute("value");
  const posted = await postForm(lp, "/console/credentials/scim-tokens", { _csrf: csrf });
  findings.limited_token_post = { status: posted.status, refused: posted.text.includes("missing privilege") };
  await shot(lp, "11-limited-user");
  await lp.setViewportSize({ width: 390, height: 844 });
  await lp.goto(`${BASE}/console/users`);
  await shot(lp, "12-phone-width");
  await limited.close();
  console.log(JSON.stringify(findings));
} finally {
  await browser.close();
}
