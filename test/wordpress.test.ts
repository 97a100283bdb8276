import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WORDPRESS_FPM_PORT, WORDPRESS_PUBLISHED_PORT } from "../components/wordpress";
import { RecordedResource, revealSecrets, SECRET_MARK } from "../program/harness";
import { placeholderPage } from "../src/wordpress/placeholder";
import {
  parsePinned, renderConfigExtra, renderNetworkInstallScript, renderPluginsScript, renderSiteScript, renderStaaticScript,
  s3AddressingStyle, WP_SITE_CREATE_OPTIONS,
} from "../src/wordpress/scripts";
import { byName, defaults, DOMAIN, FIVE, FixtureTenant, leaks, ONE, OPERATOR_SECRET_VALUES, POOLED_HOST, runWith } from "./pahekoWordpressFixtures";

describe("WordPress scripts", () => {
  it("parses pinned plugins and themes", () => {
    assert.deepEqual(parsePinned("staatic@1.11.4"), { slug: "staatic", version: "1.11.4" });
    assert.deepEqual(parsePinned("twentytwentyfive"), { slug: "twentytwentyfive", version: undefined });
    assert.throws(() => parsePinned("evil; rm -rf /"), /not a wp-cli slug/);
  });

  it("installs the network once, reading the admin password from a file on stdin", () => {
    const s = renderNetworkInstallScript({ url: "https://wp.example.org", title: "Sites", adminUser: "admin", adminEmail: "ops@example.org", adminPasswordFile: "/run/secrets/wordpress/admin_password" });
    assert.match(s, /wp core multisite-install --skip-config --subdomains .*--prompt=admin_password < '\/run\/secrets\/wordpress\/admin_password'/);
    assert.match(s, /if \[ -f "\$marker" \]; then/);
    assert.doesNotMatch(s, /--admin_password=/);
  });

  it("turns multisite on only once the network marker exists", () => {
    const php = renderConfigExtra({ networkDomain: "wp.example.org" });
    assert.match(php, /if \(file_exists\('\/var\/www\/html\/wp-content\/\.factory-network-installed'\)\) \{\n\tdefine\('MULTISITE', true\);/);
    assert.match(php, /define\('DOMAIN_CURRENT_SITE', 'wp\.example\.org'\);/);
    assert.match(php, /define\('SUBDOMAIN_INSTALL', true\);/);
  });

  it("creates a site only when no site answers on its editing hostname, with the pinned wp-cli's options only", () => {
    const s = renderSiteScript({ slug: "alpha", title: "L'Alpha", email: "a@alpha.example", editHostname: "www.alpha.example" });
    assert.match(s, /grep -qxF "\$host"/);
    assert.match(s, /wp site create --slug="\$slug" --title='L'\\''Alpha' --email='a@alpha.example' --porcelain/);
    // wp-cli 2.12.0 bundles entity-command v2.8.4: `site create` knows these options and refuses others
    // (Subcommand.php: "unknown --site-url parameter"); --site-url came with v2.8.6.
    const create = s.split("\n").find((l) => l.includes("wp site create"))!;
    const used = [...create.matchAll(/ --([a-z_-]+)/g)].map((m) => m[1]);
    assert.ok(used.length > 0);
    for (const opt of used) assert.ok((WP_SITE_CREATE_OPTIONS as readonly string[]).includes(opt), `wp site create --${opt} is not in entity-command v2.8.4`);
    assert.doesNotMatch(create, /--site-url/);
    assert.match(s, /FACTORY_SITE_ID="\$id" FACTORY_SITE_HOST="\$host" wp eval '.*wp_update_site\(\$id, \["domain" => \$host, "path" => "\/"\]\)/);
  });

  it("Staatic's S3 client addresses our buckets path-style, as AsyncAws decides it", () => {
    // Dotted bucket (a hostname) or an IP endpoint: path style (S3Client::getEndpoint in Staatic's vendor).
    assert.equal(s3AddressingStyle("www.alpha.example", "http://garage.internal:3900"), "path");
    assert.equal(s3AddressingStyle("alpha", "http://10.0.0.20:3900"), "path");
    assert.equal(s3AddressingStyle("alpha", "http://[fd00::20]:3900"), "path");
    assert.equal(s3AddressingStyle("alpha", "https://s3.example.org"), "virtual");
    assert.equal(s3AddressingStyle("alpha", "https://s3.example.org", true), "path");
    assert.throws(() => renderStaaticScript({ editHostname: "alpha.wp.example.org", endpoint: "https://s3.example.org", region: "garage", bucket: "alpha", prefix: "", publicHostname: "alpha" }), /sub-domain/);
  });

  it("sets every Staatic option per site, the key only from the environment through stdin", () => {
    const s = renderStaaticScript({ editHostname: "alpha.wp.example.org", endpoint: "http://10.0.0.20:3900", region: "garage", bucket: "www.alpha.example", prefix: "", publicHostname: "www.alpha.example" });
    for (const opt of ["staatic_deployment_method", "staatic_aws_endpoint", "staatic_aws_s3_region", "staatic_aws_s3_bucket", "staatic_aws_s3_prefix", "staatic_destination_url", "staatic_aws_auth_access_key_id", "staatic_aws_auth_secret_access_key"]) {
      assert.match(s, new RegExp(`\\| wp option update ${opt} --url="\\$url" >/dev/null$`, "m"), opt);
    }
    assert.match(s, /printf '%s' "\$STAATIC_SECRET_ACCESS_KEY" \| wp option update staatic_aws_auth_secret_access_key/);
    assert.match(s, /printf '%s' 'https:\/\/www\.alpha\.example\/' \| wp option update staatic_destination_url/);
  });

  it("plugins are ensured at their pinned version and network-activated, sorted", () => {
    const s = renderPluginsScript({ plugins: ["staatic@1.11.4", "akismet@5.3"], themes: ["twentytwentyfive@1.3"] });
    const lines = s.split("\n");
    assert.ok(lines.indexOf("ensure plugin 'akismet' '5.3'") < lines.indexOf("ensure plugin 'staatic' '1.11.4'"));
    assert.ok(lines.includes("wp plugin is-active 'staatic' --network || wp plugin activate 'staatic' --network"));
    assert.ok(lines.includes("wp theme enable 'twentytwentyfive' --network"));
  });

  it("the placeholder page escapes the title", () => {
    assert.match(placeholderPage("www.x.example", "<b>A & B</b>"), /<h1>&lt;b&gt;A &amp; B&lt;\/b&gt;<\/h1>/);
  });
});

const publicHost = (t: FixtureTenant) => t.wordpress!.hostname ?? defaults.wordpress(t.slug);
const editHost = (t: FixtureTenant) => t.wordpress!.editHostname ?? defaults.wordpressEdit(t.slug);

for (const [label, tenants] of [["1 tenant", ONE], ["5 tenants", FIVE]] as const) {
  describe(`WordPress under mocks with ${label}`, () => {
    it("registers exactly one WordPress and one MariaDB, protected volumes and passwords, *_FILE secrets", async () => {
      const { resources: rs } = await runWith(tenants);
      assert.equal(rs.filter((r) => r.type === "factory:wordpress:WordPressMultisite").length, 1);
      const ms = byName(rs, "wordpress");
      assert.deepEqual(rs.filter((r) => r.parent === ms.urn).map((r) => `${r.type} ${r.name}`).sort(), [
        "command:local:Command wordpress-network-install",
        "command:local:Command wordpress-plugins",
        "docker:index/container:Container wordpress-app",
        "docker:index/container:Container wordpress-db",
        "docker:index/network:Network wordpress-net",
        "docker:index/remoteImage:RemoteImage wordpress-db-image",
        "docker:index/remoteImage:RemoteImage wordpress-image",
        "docker:index/volume:Volume wordpress-db-data",
        "docker:index/volume:Volume wordpress-html",
        "random:index/randomPassword:RandomPassword wordpress-admin-password",
        "random:index/randomPassword:RandomPassword wordpress-db-password",
        "random:index/randomPassword:RandomPassword wordpress-db-root-password",
      ]);
      for (const n of ["wordpress-db-data", "wordpress-html", "wordpress-admin-password", "wordpress-db-password", "wordpress-db-root-password"]) {
        assert.equal(byName(rs, n).protect, true, n);
        assert.equal(byName(rs, n).retainOnDelete, true, n);
      }
      const app = byName(rs, "wordpress-app");
      const db = byName(rs, "wordpress-db");
      // The stack pins a wp-cli image built from images/wordpress (the official one has no wp-cli).
      assert.equal(app.inputs.image, "registry.factory.example.org/wordpress-wpcli:6.8.3-php8.3-fpm");
      assert.equal(db.inputs.image, "mariadb:11.4.4");
      assert.deepEqual(app.inputs.ports, [{ internal: WORDPRESS_FPM_PORT, external: WORDPRESS_PUBLISHED_PORT, ip: POOLED_HOST.address }]);
      assert.equal(db.inputs.ports, undefined, "MariaDB is never published");
      const envs = app.inputs.envs as string[];
      assert.ok(envs.includes("WORDPRESS_DB_PASSWORD_FILE=/run/secrets/wordpress/db_password"));
      assert.ok(envs.includes(`WORDPRESS_CONFIG_EXTRA=${renderConfigExtra({ networkDomain: `wp.${DOMAIN}` })}`));
      assert.ok((db.inputs.envs as string[]).includes("MARIADB_PASSWORD_FILE=/run/secrets/mariadb/password"));
      const dbUploads = revealSecrets(db.inputs.uploads) as { file: string; content: string }[];
      const appUploads = revealSecrets(app.inputs.uploads) as { file: string; content: string }[];
      assert.deepEqual(Object.keys(db.inputs.uploads as object), [SECRET_MARK]);
      const dbPw = `mock-wordpress-db-password-${"x".repeat(32)}`;
      assert.equal(dbUploads.find((u) => u.file === "/run/secrets/mariadb/password")!.content, dbPw);
      assert.equal(appUploads.find((u) => u.file === "/run/secrets/wordpress/db_password")!.content, dbPw, "both sides share the password");
      assert.ok(app.dependsOn.includes(db.urn));
    });

    it("installs the network once and the plugins from the settings, in that order", async () => {
      const { resources: rs } = await runWith(tenants);
      const install = byName(rs, "wordpress-network-install");
      const plugins = byName(rs, "wordpress-plugins");
      assert.equal(install.inputs.create, "docker exec -i -u www-data wordpress sh -s");
      assert.deepEqual(install.inputs.environment, { DOCKER_HOST: POOLED_HOST.docker });
      assert.equal(install.inputs.stdin, renderNetworkInstallScript({
        url: `https://wp.${DOMAIN}`, title: `Sites ${DOMAIN}`, adminUser: "factory-admin", adminEmail: "ops@factory.example.org",
        adminPasswordFile: "/run/secrets/wordpress/admin_password",
      }));
      assert.equal(plugins.inputs.stdin, renderPluginsScript({ plugins: ["staatic@1.11.4"], themes: ["twentytwentyfive@1.3"] }));
      assert.ok(plugins.dependsOn.includes(install.urn));
      assert.ok(install.dependsOn.includes(byName(rs, "wordpress-app").urn));
    });

    it("per tenant: a website bucket named after the public hostname; site and Staatic commands unless archived", async () => {
      const { resources: rs } = await runWith(tenants);
      const wpTenants = tenants.filter((t) => t.wordpress);
      assert.equal(rs.filter((r) => /-wordpress-bucket-index$/.test(r.name)).length, wpTenants.length);
      assert.deepEqual(rs.filter((r) => /-bucket-cors$/.test(r.name)), []);
      assert.deepEqual(rs.filter((r) => r.type.startsWith("aws:") || r.type === "pulumi:providers:aws"), []);
      assert.deepEqual(rs.filter((r) => r.type === "factory:wordpress:WordPressSite").map((r) => r.name).sort(), wpTenants.map((t) => `${t.slug}-wordpress`).sort());
      const sites = rs.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-wordpress-site"));
      const staatics = rs.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-wordpress-staatic"));
      const live = wpTenants.filter((t) => t.status !== "archived");
      assert.deepEqual(sites.map((r) => r.name).sort(), live.map((t) => `${t.slug}-wordpress-site`).sort());
      assert.deepEqual(staatics.map((r) => r.name).sort(), live.map((t) => `${t.slug}-wordpress-staatic`).sort());
      const ready = [byName(rs, "wordpress-network-install").urn, byName(rs, "wordpress-plugins").urn];
      for (const t of wpTenants) {
        const bucketComp = byName(rs, `${t.slug}-wordpress-bucket`);
        assert.equal(bucketComp.type, "factory:garage:GarageBucket");
        assert.equal(bucketComp.tenant, t.slug);
        const bucket = byName(rs, `${t.slug}-wordpress-bucket-bucket`);
        assert.equal(bucket.inputs.globalAlias, publicHost(t));
        assert.deepEqual(bucket.inputs.website, { enabled: true, indexDocument: "index.html", errorDocument: "404.html" });
        assert.equal(bucket.protect, true);
        // The placeholder page, written once through Garage's S3 API with the platform key (archived tenants keep it too).
        const index = byName(rs, `${t.slug}-wordpress-bucket-index`);
        assert.deepEqual(Object.fromEntries(Object.entries(index.inputs).filter(([k]) => k !== "__provider")), {
          s3Url: "http://10.20.0.20:3900", s3Region: "garage",
          s3AccessKeyId: { [SECRET_MARK]: OPERATOR_SECRET_VALUES.garageS3AccessKeyId },
          s3SecretAccessKey: { [SECRET_MARK]: OPERATOR_SECRET_VALUES.garageS3SecretAccessKey },
          bucket: publicHost(t), key: "index.html", content: placeholderPage(publicHost(t), t.wordpress!.title ?? `Tenant ${t.slug}`),
          contentType: "text/html; charset=utf-8",
        });
        assert.deepEqual([index.type, index.retainOnDelete, index.tenant], ["pulumi-nodejs:dynamic:Resource", true, t.slug]);
        assert.ok(index.dependsOn.includes(byName(rs, `${t.slug}-wordpress-bucket-platform-grant`).urn));
        if (t.status === "archived") continue;
        const site = byName(rs, `${t.slug}-wordpress-site`);
        assert.deepEqual(site.inputs, {
          create: "docker exec -i -u www-data wordpress sh -s",
          stdin: renderSiteScript({ slug: t.slug, title: t.wordpress!.title ?? `Tenant ${t.slug}`, email: `contact@${t.slug}.example`, editHostname: editHost(t) }),
          environment: { DOCKER_HOST: POOLED_HOST.docker },
          logging: "stdoutAndStderr",
        });
        for (const u of ready) assert.ok(site.dependsOn.includes(u), "site waits for the network and plugins");
        const st = byName(rs, `${t.slug}-wordpress-staatic`);
        assert.equal(st.inputs.logging, "none");
        assert.equal(st.inputs.create, "docker exec -i -u www-data -e STAATIC_ACCESS_KEY_ID -e STAATIC_SECRET_ACCESS_KEY wordpress sh -s");
        assert.equal(st.inputs.stdin, renderStaaticScript({
          editHostname: editHost(t), endpoint: "http://10.20.0.20:3900", region: "garage", bucket: publicHost(t), prefix: "", publicHostname: publicHost(t),
        }));
        // The environment (with the key) is a secret; revealed, it carries the bucket's own key.
        assert.deepEqual(Object.keys(st.inputs.environment as object), [SECRET_MARK]);
        const env = revealSecrets(st.inputs.environment) as Record<string, string>;
        const key = rs.find((r) => r.name === `${t.slug}-wordpress-bucket-key`)!;
        assert.ok(key, "bucket key");
        assert.match(env.STAATIC_SECRET_ACCESS_KEY, /^mock-garage-secret-[0-9a-f]{48}$/);
        assert.match(env.STAATIC_ACCESS_KEY_ID, /^GK[0-9a-f]{24}$/);
        assert.equal(env.DOCKER_HOST, POOLED_HOST.docker);
        assert.ok(st.dependsOn.includes(site.urn));
      }
    });

    it("never exposes a secret in plain text in any input (commands, envs, labels, props)", async () => {
      const { resources: rs } = await runWith(tenants);
      assert.deepEqual(leaks(rs), []);
      for (const r of rs.filter((x) => x.type === "command:local:Command")) {
        const create = String(r.inputs.create ?? "");
        assert.doesNotMatch(create, /mock-|leak-check-/, r.name);
      }
      const props = rs.filter((r) => !r.custom && /^factory:(paheko|wordpress|static)/.test(r.type));
      for (const p of props) assert.ok(JSON.stringify(p.inputs).length < 80, `${p.name} props stay small: ${JSON.stringify(p.inputs)}`);
    });
  });
}

describe("the leak check itself", () => {
  it("finds a known secret outside a secret wrapper", () => {
    const fake: RecordedResource = {
      urn: "u", type: "command:local:Command", name: "oops", tenant: null, parent: null, protect: false, retainOnDelete: false, deleteBeforeReplace: false,
      custom: true, provider: null, dependsOn: [], aliases: 0, inputs: { create: `echo ${OPERATOR_SECRET_VALUES.garageAdminToken}` },
    };
    assert.equal(leaks([fake]).length, 1);
  });
});
