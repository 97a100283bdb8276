import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pahekoHost, PAHEKO_HTTP_PORT, PAHEKO_PUBLISHED_PORT } from "../components/paheko";
import { revealSecrets, SECRET_MARK } from "../src/harness";
import { checkOrgs, renderPahekoConfig } from "../src/paheko/config";
import { renderCronLoop, renderFolderScript } from "../src/paheko/scripts";
import { phpQuote, shQuote } from "../src/paheko/shell";
import { Host } from "../src/types";
import { byName, defaults, DOMAIN, FIVE, FixtureTenant, leaks, ONE, OPERATOR_SECRET_VALUES, POOLED_HOST, runWith } from "./pahekoWordpressFixtures";

const baseConfig = {
  factoryDomain: "paheko.example.org",
  fileStorageQuotaBytes: 1024,
  secretKeyFile: "/run/secrets/paheko/secret_key",
  mail: { host: "bulk.example.org", port: 587, user: "noreply@example.org", passwordFile: "/run/secrets/paheko/smtp_password", sender: "noreply@example.org" },
};

describe("Paheko config renderer", () => {
  const orgs = [
    { org: "beta", hostnames: ["compta.beta.example"] },
    { org: "alpha", hostnames: ["alpha.paheko.example.org", "gestion.alpha.example"] },
  ];

  it("renders the factory constants, the domain map and no secret value", () => {
    const php = renderPahekoConfig({ ...baseConfig, orgs });
    for (const line of [
      "namespace Paheko;",
      "const FACTORY_DOMAIN = 'paheko.example.org';",
      "const FACTORY_USER_DIRECTORY = '/data/users';",
      "const FILE_STORAGE_QUOTA = 1024;",
      "const ENABLE_UPGRADES = false;",
      "const USE_CRON = true;",
      "const SMTP_HOST = 'bulk.example.org';",
      "const SMTP_SECURITY = 'STARTTLS';",
      "\t'alpha.paheko.example.org' => 'alpha',",
      "\t'gestion.alpha.example' => 'alpha',",
      "\t'compta.beta.example' => 'beta',",
      "\t'alpha' => 'alpha.paheko.example.org',",
      "define('Paheko\\SECRET_KEY', $factory_secret('/run/secrets/paheko/secret_key'));",
    ]) assert.ok(php.split("\n").includes(line), `missing line: ${line}`);
    assert.doesNotMatch(php, /SQLITE_JOURNAL_MODE/);
    assert.match(renderPahekoConfig({ ...baseConfig, orgs, walJournal: true }), /const SQLITE_JOURNAL_MODE = 'WAL';/);
  });

  it("is byte-identical whatever the order of the organisations", () => {
    assert.equal(renderPahekoConfig({ ...baseConfig, orgs }), renderPahekoConfig({ ...baseConfig, orgs: [...orgs].reverse() }));
  });

  it("picks TLS for 465 and no encryption for 25", () => {
    assert.match(renderPahekoConfig({ ...baseConfig, orgs, mail: { ...baseConfig.mail, port: 465 } }), /SMTP_SECURITY = 'TLS'/);
    assert.match(renderPahekoConfig({ ...baseConfig, orgs, mail: { ...baseConfig.mail, port: 25 } }), /SMTP_SECURITY = 'NONE'/);
  });

  it("refuses bad organisation names, duplicates and a hostname mapped twice", () => {
    assert.throws(() => checkOrgs([{ org: "Bad.Name", hostnames: ["a.example"] }]), /must match/);
    assert.throws(() => checkOrgs([{ org: "x".repeat(64), hostnames: ["a.example"] }]), /must match/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: ["a.example"] }, { org: "a", hostnames: ["b.example"] }]), /listed twice/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: ["x.example"] }, { org: "b", hostnames: ["x.example"] }]), /mapped to both "a" and "b"/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: [] }]), /no hostname/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: ["x.example'; die();"] }]), /not a lower-case ASCII hostname/);
  });

  it("quotes shell and PHP literals", () => {
    assert.equal(shQuote("it's"), `'it'\\''s'`);
    assert.equal(phpQuote("a'b\\c"), `'a\\'b\\\\c'`);
  });
});

describe("Paheko scripts", () => {
  it("the folder script only ever creates, for a valid organisation name", () => {
    const s = renderFolderScript({ org: "asso-exemple" });
    assert.match(s, /^org='asso-exemple'$/m);
    assert.match(s, /^users_dir='\/data\/users'$/m);
    assert.doesNotMatch(s, /\brm\b|rmdir|unlink|mv /);
    assert.throws(() => renderFolderScript({ org: "../etc" }), /must match/);
  });

  it("the cron loop lists organisations sorted and unique, and checks its intervals", () => {
    const s = renderCronLoop({ orgs: ["zeta", "alpha", "zeta"] });
    assert.match(s, /^orgs='alpha zeta'$/m);
    assert.match(s, /^interval=300$/m);
    assert.match(s, /scripts\/cron\.php/);
    assert.match(s, /scripts\/emails\.php/);
    assert.throws(() => renderCronLoop({ orgs: [], intervalSeconds: 0 }), /positive integer/);
  });
});

describe("pahekoHost", () => {
  const h = (name: string, roles: Host["roles"], drain = false): Host => ({ name, docker: `ssh://${name}`, roles, weight: 1, privateAddress: "10.0.0.1", drain });
  it("is the first compute host by name, drained or not, whatever the inventory order", () => {
    assert.equal(pahekoHost([h("c2", ["compute"]), h("a-edge", ["edge"]), h("c1", ["compute"], true)]).name, "c1");
    assert.throws(() => pahekoHost([h("e", ["edge"])]), /compute host/);
  });
});

function expectedHostname(t: FixtureTenant): string {
  return t.paheko!.hostname ?? defaults.paheko(t.slug);
}

for (const [label, tenants] of [["1 tenant", ONE], ["5 tenants", FIVE]] as const) {
  describe(`Paheko under mocks with ${label}`, () => {
    it("registers exactly one instance: one web and one cron container, one protected volume, one protected secret key", async () => {
      const { resources: rs } = await runWith(tenants);
      assert.equal(rs.filter((r) => r.type === "factory:paheko:PahekoFactory").length, 1);
      const factory = byName(rs, "paheko");
      const children = rs.filter((r) => r.parent === factory.urn).map((r) => `${r.type} ${r.name}`).sort();
      assert.deepEqual(children, [
        "docker:index/container:Container paheko-app",
        "docker:index/container:Container paheko-cron",
        "docker:index/remoteImage:RemoteImage paheko-image",
        "docker:index/volume:Volume paheko-data",
        "random:index/randomPassword:RandomPassword paheko-secret-key",
      ]);
      const containers = rs.filter((r) => r.type === "docker:index/container:Container" && String(r.inputs.image).includes("paheko"));
      assert.equal(containers.length, 2);
      for (const name of ["paheko-data", "paheko-secret-key"]) {
        assert.equal(byName(rs, name).protect, true, name);
        assert.equal(byName(rs, name).retainOnDelete, true, name);
      }
      const app = byName(rs, "paheko-app");
      assert.deepEqual(app.inputs.ports, [{ internal: PAHEKO_HTTP_PORT, external: PAHEKO_PUBLISHED_PORT, ip: POOLED_HOST.address }]);
      assert.equal(app.inputs.name, "paheko");
      assert.equal(app.inputs.image, "registry.factory.example.org/paheko-factory:1.3.15");
      assert.deepEqual(app.inputs.volumes, [{ volumeName: "paheko-data", containerPath: "/data" }]);
      assert.ok(app.provider?.includes(`platform-docker-${POOLED_HOST.name}`), app.provider ?? "no provider");
      assert.deepEqual(byName(rs, "paheko-cron").inputs.entrypoints, ["/bin/sh", "/usr/local/share/paheko-factory/cron-loop.sh"]);
    });

    it("uploads the config for exactly the non-archived tenants, and the secrets only as secret files", async () => {
      const { resources: rs } = await runWith(tenants);
      // The upload list holds secrets, so Pulumi keeps the whole list secret (state and plan show [secret]).
      const raw = byName(rs, "paheko-app").inputs.uploads as Record<string, unknown>;
      assert.deepEqual(Object.keys(raw), [SECRET_MARK]);
      const uploads = revealSecrets(raw) as { file: string; content: unknown }[];
      const byFile = Object.fromEntries(uploads.map((u) => [u.file, u.content]));
      assert.deepEqual(Object.keys(byFile).sort(), ["/run/secrets/paheko/secret_key", "/run/secrets/paheko/smtp_password", "/var/www/paheko/config.local.php"]);
      assert.equal(byFile["/run/secrets/paheko/secret_key"], `mock-paheko-secret-key-${"x".repeat(48)}`);
      assert.equal(byFile["/run/secrets/paheko/smtp_password"], OPERATOR_SECRET_VALUES.smtpPassword);
      const served = tenants.filter((t) => t.paheko && t.status !== "archived");
      const expected = renderPahekoConfig({
        factoryDomain: `paheko.${DOMAIN}`,
        fileStorageQuotaBytes: 1024 ** 3,
        secretKeyFile: "/run/secrets/paheko/secret_key",
        orgs: served.map((t) => ({ org: t.slug, hostnames: [expectedHostname(t)] })),
        mail: { host: "bulk.factory.example.org", port: 587, user: "noreply@factory.example.org", passwordFile: "/run/secrets/paheko/smtp_password", sender: "noreply@factory.example.org" },
      });
      assert.equal(byFile["/var/www/paheko/config.local.php"], expected);
      const cronUploads = revealSecrets(byName(rs, "paheko-cron").inputs.uploads) as { file: string; content: unknown }[];
      const loop = cronUploads.find((u) => u.file === "/usr/local/share/paheko-factory/cron-loop.sh")!.content;
      assert.equal(loop, renderCronLoop({ orgs: served.map((t) => t.slug) }));
    });

    it("registers per tenant exactly the folder command (none for archived tenants), with no delete command", async () => {
      const { resources: rs } = await runWith(tenants);
      const comps = rs.filter((r) => r.type === "factory:paheko:PahekoOrganisation");
      assert.deepEqual(comps.map((c) => c.name).sort(), tenants.filter((t) => t.paheko).map((t) => `${t.slug}-paheko`).sort());
      for (const c of comps) assert.deepEqual(c.inputs, { tenant: c.tenant });
      const folders = rs.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-paheko-folder"));
      const active = tenants.filter((t) => t.paheko && t.status !== "archived");
      assert.deepEqual(folders.map((f) => f.name).sort(), active.map((t) => `${t.slug}-paheko-folder`).sort());
      const app = byName(rs, "paheko-app");
      for (const t of active) {
        const f = byName(rs, `${t.slug}-paheko-folder`);
        assert.equal(f.tenant, t.slug);
        assert.equal("delete" in f.inputs, false, "no delete command: removal never deletes the folder");
        assert.deepEqual(f.inputs, {
          create: "docker exec -i paheko sh -s",
          stdin: renderFolderScript({ org: t.slug }),
          environment: { DOCKER_HOST: POOLED_HOST.docker },
          logging: "stdoutAndStderr",
        });
        assert.ok(f.dependsOn.includes(app.urn), "the folder waits for the container");
      }
    });

    it("never exposes a secret in plain text in any input", async () => {
      const { resources: rs } = await runWith(tenants);
      assert.deepEqual(leaks(rs), []);
      // Positive control: the secrets are there, wrapped.
      const revealed = JSON.stringify(revealSecrets(byName(rs, "paheko-app").inputs));
      assert.ok(revealed.includes(OPERATOR_SECRET_VALUES.smtpPassword));
    });
  });
}
