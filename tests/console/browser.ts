// Debian's Chromium under playwright-core: a fresh profile, nothing beyond 127.0.0.1, every CSP violation kept.
/// <reference lib="dom" />
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Why the browser suite cannot run here, or undefined when it can. Without CI a missing Chromium
 * skips the suite; under CI it is a failure, since CI installs it.
 */
export function browserMissing(): string | undefined {
  try {
    Deno.statSync(CHROMIUM);
    return undefined;
  } catch {
    const reason = `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\``;
    if (Deno.env.get("CI")) throw new Error(`CI runs the browser suite, but ${reason}`);
    return reason;
  }
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests to anything but 127.0.0.1, each aborted before it left. */
  offOrigin: string[];
  /** Content-Security-Policy violations the pages reported, and the console's CSP errors. */
  violations: string[];
  /** Uncaught errors of the pages' scripts. */
  pageErrors: string[];
  /** Fails when any of the three lists above has an entry. */
  assertClean(): void;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile, every request not for 127.0.0.1 aborted and recorded. */
export async function openBrowser(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "matcher-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: FLAGS,
    viewport: options.viewport ?? { width: 960, height: 720 },
    permissions: ["clipboard-read", "clipboard-write"],
    locale: "en-US",
    timezoneId: "UTC",
  });
  const offOrigin: string[] = [];
  const violations: string[] = [];
  const pageErrors: string[] = [];
  await context.route(() => true, (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" && (url.protocol === "http:" || url.protocol === "ws:")) {
      return route.continue();
    }
    if (url.protocol === "data:") return route.continue();
    offOrigin.push(url.href);
    return route.abort("blockedbyclient");
  });
  await context.exposeFunction("reportCspViolation", (text: string) => violations.push(text));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const report = (globalThis as unknown as { reportCspViolation(text: string): void })
        .reportCspViolation;
      report(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const watch = (page: Page) => {
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    page.on("pageerror", (error) => pageErrors.push(error.message));
  };
  context.on("page", watch);
  const page = context.pages()[0] ?? await context.newPage();
  watch(page);

  return {
    context,
    page,
    offOrigin,
    violations,
    pageErrors,
    assertClean() {
      const problems = [
        ...offOrigin.map((u) => `a request to another origin: ${u}`),
        ...violations.map((v) => `a CSP violation: ${v}`),
        ...pageErrors.map((e) => `a script error: ${e}`),
      ];
      if (problems.length) throw new Error(problems.join("\n"));
    },
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}
