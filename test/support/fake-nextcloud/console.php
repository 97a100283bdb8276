<?php
// A fake Nextcloud `occ` (console.php) for the lab tests, behaving as Nextcloud 31's source says where our
// scripts depend on it. Paths are relative to the nextcloud/server repository; laid out next to a fake
// version.php and `occ` by test/support/fakeNextcloud.ts. What it does, like the real one:
//
// - root and config dir: OC::$SERVERROOT is this file's folder; the config dir is NEXTCLOUD_CONFIG_DIR
//   (lib/base.php initPaths), read as config.php then every *.config.php in natural order, merged key by
//   key, NC_<key> environment variables winning (lib/private/Config.php readData, getValue);
// - writes: the whole merged configuration goes into config.php, mode 0640, refused with
//   config_is_read_only (Config.php writeData, checkReadOnly);
// - a missing config.php is created (lib/base.php checkConfig touches it); occ stops unless it runs as the
//   owner of config.php (console.php: "Console has to be executed with the user that owns ...");
// - commands: status and check always; maintenance:install only while not installed, the core commands
//   only once installed (core/register_command.php); commands of apps only when installed, not needing an
//   upgrade and not in maintenance mode (lib/private/Console/Application.php loadCommands,
//   writeMaintenanceModeInfo); an unknown command is Symfony's `Command "x" is not defined.`, exit 1;
// - before any command but `check`: OC_Util::checkServer (lib/private/legacy/OC_Util.php): the config dir
//   must be writable (unless config_is_read_only) and, while appstoreenabled is not false, the first
//   writable apps_paths entry must exist and be writable: "Cannot write into "apps" directory.", then
//   "Environment not properly prepared." and exit 1 (console.php exceptionHandler);
// - `upgrade`: upgrades when needed (code version newer than config's `version`, or an enabled app's code
//   newer than its installed_version) and keeps maintenance mode as it was; with nothing to upgrade, exit 2
//   in maintenance mode ("Nextcloud is in maintenance mode") and 0 otherwise (core/Command/Upgrade.php);
// - `user_oidc:provider ID --clientsecret-env=VAR ...` stores the provider (user_oidc
//   lib/Command/UpsertProvider.php: only one of --clientsecret, -file, -env);
// - the database: with dbtype pgsql, a real PostgreSQL (PDO): the install creates oc_* tables (and fails
//   with "relation already exists" when they are there, as migrations do) and the instance's state is JSON
//   in oc_fake_state; with sqlite (the populate step's throw-away instance) a JSON file in the data dir.
//   FAKE_NEXTCLOUD_FAIL_INSTALL=after-tables makes maintenance:install die after creating the tables and
//   writing config.php without 'installed', as an install killed half-way leaves them.
// Every run appends {argv, cmdline, uid} to FAKE_NEXTCLOUD_LOG when set.

declare(strict_types=1);

final class OC {
	public static string $SERVERROOT = '';
	public static string $configDir = '';
}

OC::$SERVERROOT = __DIR__;
$dir = getenv('NEXTCLOUD_CONFIG_DIR');
OC::$configDir = ($dir !== false && $dir !== '') ? rtrim($dir, '/') . '/' : OC::$SERVERROOT . '/config/';

final class Fail extends Exception {
	public function __construct(string $message, public int $exitCode = 1) {
		parent::__construct($message);
	}
}

function out(string $line): void { fwrite(STDOUT, $line . "\n"); }
function err(string $line): void { fwrite(STDERR, $line . "\n"); }

function readConfig(): array {
	$files = [OC::$configDir . 'config.php'];
	$extra = glob(OC::$configDir . '*.config.php') ?: [];
	natsort($extra);
	$cache = [];
	foreach (array_merge($files, $extra) as $file) {
		if (!is_file($file)) {
			continue;
		}
		unset($CONFIG);
		include $file;
		if (isset($CONFIG) && is_array($CONFIG)) {
			$cache = array_merge($cache, $CONFIG);
		}
	}
	return $cache;
}

function cfg(array $config, string $key, mixed $default = null): mixed {
	$env = getenv('NC_' . $key);
	if ($env !== false) {
		return $env;
	}
	return array_key_exists($key, $config) ? $config[$key] : $default;
}

function writeConfig(array $config): void {
	if (cfg($config, 'config_is_read_only', false)) {
		throw new Fail('Config is set to be read-only via option "config_is_read_only".');
	}
	$file = OC::$configDir . 'config.php';
	if (@file_put_contents($file, "<?php\n\$CONFIG = " . var_export($config, true) . ";\n") === false) {
		throw new Fail("Can't write into config directory!");
	}
	chmod($file, 0640);
}

function codeVersion(): array {
	require OC::$SERVERROOT . '/version.php';
	/** @var array $OC_Version */
	return $OC_Version;
}
function codeVersionString(): string { return implode('.', array_slice(codeVersion(), 0, 3)); }
function codeVersionFull(): string { return implode('.', codeVersion()); }

function appsPaths(array $config): array {
	$paths = cfg($config, 'apps_paths', null);
	if (!is_array($paths)) {
		return [['path' => OC::$SERVERROOT . '/apps', 'url' => '/apps', 'writable' => true]];
	}
	return $paths;
}

function appPath(array $config, string $app): ?string {
	foreach (appsPaths($config) as $p) {
		if (is_dir($p['path'] . '/' . $app)) {
			return $p['path'] . '/' . $app;
		}
	}
	return null;
}

function appCodeVersion(array $config, string $app): string {
	$path = appPath($config, $app);
	$xml = $path === null ? false : @file_get_contents($path . '/appinfo/info.xml');
	if ($xml !== false && preg_match('#<version>([^<]+)</version>#', $xml, $m) === 1) {
		return $m[1];
	}
	return '1.0.0';
}

function pdo(array $config): ?PDO {
	if (cfg($config, 'dbtype', 'sqlite') !== 'pgsql') {
		return null;
	}
	[$host, $port] = array_pad(explode(':', (string)cfg($config, 'dbhost', 'localhost'), 2), 2, '5432');
	$dsn = sprintf('pgsql:host=%s;port=%s;dbname=%s;sslmode=prefer', $host, $port, cfg($config, 'dbname'));
	try {
		return new PDO($dsn, (string)cfg($config, 'dbuser'), (string)cfg($config, 'dbpassword'), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
	} catch (PDOException $e) {
		throw new Fail('Failed to connect to the database: ' . $e->getMessage());
	}
}
function dbFile(array $config): string {
	return rtrim((string)cfg($config, 'datadirectory', OC::$SERVERROOT . '/data'), '/') . '/' . cfg($config, 'dbname', 'nextcloud') . '.json';
}
const EMPTY_DB = ['tables' => false, 'appconfig' => [], 'users' => [], 'oidc' => []];
/** The instance's state: JSON in the real PostgreSQL (table oc_fake_state) for pgsql, a file for sqlite. */
function readDb(array $config): array {
	$pdo = pdo($config);
	if ($pdo === null) {
		$raw = @file_get_contents(dbFile($config));
		return $raw === false ? EMPTY_DB : json_decode($raw, true);
	}
	$tables = (int)$pdo->query("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'oc\\_%'")->fetchColumn();
	if ($tables === 0) {
		return EMPTY_DB;
	}
	$doc = $pdo->query("SELECT to_regclass('oc_fake_state') IS NOT NULL")->fetchColumn() ? $pdo->query('SELECT doc FROM oc_fake_state WHERE id = 1')->fetchColumn() : false;
	return $doc === false ? ['tables' => true] + EMPTY_DB : json_decode($doc, true);
}
function writeDb(array $config, array $db): void {
	$pdo = pdo($config);
	if ($pdo === null) {
		if (@file_put_contents(dbFile($config), json_encode($db, JSON_PRETTY_PRINT)) === false) {
			throw new Fail('Failed to write the database ' . dbFile($config));
		}
		return;
	}
	$pdo->exec('CREATE TABLE IF NOT EXISTS oc_fake_state (id int PRIMARY KEY, doc text NOT NULL)');
	$pdo->prepare('INSERT INTO oc_fake_state (id, doc) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc')->execute([json_encode($db)]);
}
/** What the install's first migrations create (real names of Nextcloud tables; no columns that matter here). */
function createTables(array $config): void {
	$pdo = pdo($config);
	if ($pdo === null) {
		return;
	}
	foreach (['oc_appconfig', 'oc_users', 'oc_migrations'] as $table) {
		try {
			$pdo->exec("CREATE TABLE $table (id serial PRIMARY KEY)");
		} catch (PDOException $e) {
			throw new Fail('Doctrine\DBAL\Exception\TableExistsException: ' . $e->getMessage());
		}
	}
}

function installed(array $config): bool { return (bool)cfg($config, 'installed', false); }
function enabledApps(array $db): array {
	return array_keys(array_filter($db['appconfig'], fn ($c) => ($c['enabled'] ?? 'no') === 'yes'));
}
function needUpgrade(array $config): bool {
	if (!installed($config)) {
		return false;
	}
	if (version_compare(codeVersionFull(), (string)cfg($config, 'version', '0.0.0'), '>')) {
		return true;
	}
	$db = readDb($config);
	foreach (enabledApps($db) as $app) {
		if (version_compare(appCodeVersion($config, $app), (string)($db['appconfig'][$app]['installed_version'] ?? '0'), '>')) {
			return true;
		}
	}
	return false;
}

function checkServer(array $config): array {
	$errors = [];
	if (!cfg($config, 'config_is_read_only', false) && (!is_writable(OC::$configDir) || !is_readable(OC::$configDir))) {
		$errors[] = 'Cannot write into "config" directory.';
	}
	if (cfg($config, 'appstoreenabled', true)) {
		$install = null;
		foreach (appsPaths($config) as $p) {
			if (!empty($p['writable'])) {
				$install = $p['path'];
				break;
			}
		}
		if ($install === null || !is_writable($install) || !is_readable($install)) {
			$errors[] = 'Cannot write into "apps" directory.';
		}
	}
	return $errors;
}

/** Parses `--name=value`, `--flag` and positionals against a spec: name => 'flag' | 'value'. */
function parseArgs(string $command, array $args, array $spec): array {
	$spec += ['no-interaction' => 'flag', 'no-warnings' => 'flag', 'output' => 'value', 'n' => 'flag'];
	$options = [];
	$positional = [];
	foreach ($args as $arg) {
		if (preg_match('/^--([a-z0-9_-]+)(?:=(.*))?$/s', $arg, $m) === 1) {
			$name = $m[1];
			if (!isset($spec[$name])) {
				throw new Fail("The \"--$name\" option does not exist.");
			}
			if ($spec[$name] === 'value' && !array_key_exists(2, $m)) {
				throw new Fail("The \"--$name\" option requires a value (this fake takes only --$name=value).");
			}
			$options[$name] = $spec[$name] === 'flag' ? true : $m[2];
		} elseif ($arg === '-n') {
			$options['no-interaction'] = true;
		} else {
			$positional[] = $arg;
		}
	}
	return [$options, $positional];
}

function castValue(string $value, ?string $type): mixed {
	return match ($type ?? 'string') {
		'boolean' => match ($value) { 'true', '1', 'yes' => true, 'false', '0', 'no' => false, default => throw new Fail("Cannot parse \"$value\" as boolean") },
		'integer' => is_numeric($value) ? (int)$value : throw new Fail("Cannot parse \"$value\" as integer"),
		'string' => $value,
		default => throw new Fail("Invalid type $type"),
	};
}

/** The commands occ has right now, each as name => [spec, handler]. */
function commands(array $config): array {
	$core = [
		'status' => [[], 'cmdStatus'],
		'check' => [[], fn () => 0],
	];
	if (!installed($config)) {
		return $core + ['maintenance:install' => [[
			'database' => 'value', 'database-name' => 'value', 'database-host' => 'value', 'database-port' => 'value',
			'database-user' => 'value', 'database-pass' => 'value', 'database-table-space' => 'value', 'admin-user' => 'value',
			'admin-pass' => 'value', 'admin-email' => 'value', 'data-dir' => 'value',
		], 'cmdInstall']];
	}
	$core += [
		'maintenance:mode' => [['on' => 'flag', 'off' => 'flag'], 'cmdMode'],
		'upgrade' => [[], 'cmdUpgrade'],
		'config:system:set' => [['value' => 'value', 'type' => 'value', 'update-only' => 'flag'], 'cmdSystemSet'],
		'config:system:get' => [[], 'cmdSystemGet'],
		'config:system:delete' => [['error-if-not-exists' => 'flag'], 'cmdSystemDelete'],
		'config:app:set' => [['value' => 'value', 'type' => 'value', 'update-only' => 'flag', 'lazy' => 'flag', 'sensitive' => 'flag'], 'cmdAppSet'],
		'config:app:get' => [[], 'cmdAppGet'],
		'app:enable' => [['groups' => 'value', 'force' => 'flag'], 'cmdAppEnable'],
		'app:list' => [['shipped' => 'value'], 'cmdAppList'],
		'background:cron' => [[], 'cmdBackgroundCron'],
		'db:add-missing-indices' => [['dry-run' => 'flag'], fn () => 0],
	];
	if (needUpgrade($config) || cfg($config, 'maintenance', false)) {
		return $core;
	}
	$db = readDb($config);
	if (in_array('user_oidc', enabledApps($db), true)) {
		$core['user_oidc:provider'] = [[
			'clientid' => 'value', 'clientsecret' => 'value', 'clientsecret-file' => 'value', 'clientsecret-env' => 'value',
			'discoveryuri' => 'value', 'endsessionendpointuri' => 'value', 'postlogouturi' => 'value', 'scope' => 'value',
			'unique-uid' => 'value', 'mapping-display-name' => 'value', 'mapping-email' => 'value', 'mapping-groups' => 'value',
			'mapping-uid' => 'value', 'group-provisioning' => 'value', 'group-whitelist-regex' => 'value',
			'group-restrict-login-to-whitelist' => 'value', 'check-bearer' => 'value',
		], 'cmdOidcProvider'];
	}
	return $core;
}

function cmdStatus(array $config, array $o, array $p): int {
	$status = [
		'installed' => installed($config),
		'version' => codeVersionFull(),
		'versionstring' => codeVersionString(),
		'edition' => '',
		'maintenance' => (bool)cfg($config, 'maintenance', false),
		'needsDbUpgrade' => needUpgrade($config),
		'productname' => 'Nextcloud',
		'extendedSupport' => false,
	];
	out(($o['output'] ?? '') === 'json' ? json_encode($status) : print_r($status, true));
	return 0;
}

function cmdInstall(array $config, array $o, array $p): int {
	foreach (['database-pass', 'admin-pass'] as $secret) {
		if (str_starts_with($o[$secret] ?? '', '@file:')) {
			throw new Fail("--$secret is the literal \"@file:...\": occ reads no file");
		}
	}
	$dataDir = $o['data-dir'] ?? OC::$SERVERROOT . '/data';
	if (!is_dir($dataDir) && !@mkdir($dataDir, 0770, true)) {
		throw new Fail("Cannot create or write into the data directory $dataDir");
	}
	if (!is_writable($dataDir)) {
		throw new Fail("Cannot create or write into the data directory $dataDir");
	}
	$config += ['instanceid' => 'oc' . bin2hex(random_bytes(6)), 'passwordsalt' => bin2hex(random_bytes(15)), 'secret' => bin2hex(random_bytes(24))];
	$config['datadirectory'] = $dataDir;
	$config['dbtype'] = $o['database'] ?? 'sqlite';
	$config['dbname'] = $o['database-name'] ?? 'nextcloud';
	$config['dbhost'] = $o['database-host'] ?? 'localhost';
	$config['dbuser'] = $o['database-user'] ?? '';
	$config['dbpassword'] = $o['database-pass'] ?? '';
	$config['version'] = codeVersionFull();
	$config['overwrite.cli.url'] = 'http://localhost';
	$db = readDb($config);
	if ($db['tables'] && !empty($db['users'])) {
		throw new Fail('Failed to install: the database already holds a Nextcloud (user ' . $db['users'][0] . ' exists)');
	}
	createTables($config);
	$db['tables'] = true;
	foreach (['files', 'dav', 'settings'] as $shipped) {
		$db['appconfig'][$shipped] = ['enabled' => 'yes', 'installed_version' => appCodeVersion($config, $shipped)];
	}
	writeDb($config, $db);
	writeConfig($config);
	if (getenv('FAKE_NEXTCLOUD_FAIL_INSTALL') === 'after-tables') {
		throw new Fail('Doctrine\DBAL\Exception: server closed the connection unexpectedly (the fake install stopped half-way)');
	}
	$db['users'][] = $o['admin-user'] ?? 'admin';
	writeDb($config, $db);
	$config['installed'] = true;
	writeConfig($config);
	out('Nextcloud was successfully installed');
	return 0;
}

function cmdMode(array $config, array $o, array $p): int {
	if (!empty($o['on'])) {
		$config['maintenance'] = true;
		writeConfig($config);
		out('Maintenance mode enabled');
	} elseif (!empty($o['off'])) {
		$config['maintenance'] = false;
		writeConfig($config);
		out('Maintenance mode disabled');
	} else {
		out('Maintenance mode is currently ' . (cfg($config, 'maintenance', false) ? 'enabled' : 'disabled'));
	}
	return 0;
}

function cmdUpgrade(array $config, array $o, array $p): int {
	if (needUpgrade($config)) {
		$was = (bool)cfg($config, 'maintenance', false);
		$config['version'] = codeVersionFull();
		$db = readDb($config);
		foreach (enabledApps($db) as $app) {
			$db['appconfig'][$app]['installed_version'] = appCodeVersion($config, $app);
		}
		writeDb($config, $db);
		$config['maintenance'] = $was;
		writeConfig($config);
		out('Update successful');
		out($was ? 'Maintenance mode is kept active' : 'Turned off maintenance mode');
		return 0;
	}
	if (cfg($config, 'maintenance', false)) {
		out('Nextcloud is in maintenance mode');
		out('Maybe an upgrade is already in process. Please check the logfile (data/nextcloud.log). If you want to re-run the upgrade procedure, remove the "maintenance mode" from config.php and call this script again.');
		return 2;
	}
	out('Nextcloud is already latest version');
	return 0;
}

function setPath(array &$config, array $keys, mixed $value): void {
	$ref = &$config;
	foreach ($keys as $k) {
		if (!isset($ref[$k]) || !is_array($ref[$k])) {
			$ref[$k] = [];
		}
		$ref = &$ref[$k];
	}
	$ref = $value;
}

function cmdSystemSet(array $config, array $o, array $p): int {
	if ($p === [] || !array_key_exists('value', $o)) {
		throw new Fail('Not enough arguments (missing: "name") or no --value.');
	}
	$value = castValue($o['value'], $o['type'] ?? null);
	$keys = array_map(fn ($k) => ctype_digit($k) ? (int)$k : $k, $p);
	if (count($keys) === 1) {
		$config[$keys[0]] = $value;
	} else {
		$top = $config[$keys[0]] ?? [];
		$top = is_array($top) ? $top : [];
		setPath($top, array_slice($keys, 1), $value);
		$config[$keys[0]] = $top;
	}
	writeConfig($config);
	out('System config value ' . implode(' => ', $p) . ' set to ' . var_export($value, true));
	return 0;
}

function cmdSystemGet(array $config, array $o, array $p): int {
	$v = $config;
	foreach ($p as $k) {
		if (!is_array($v) || !array_key_exists(ctype_digit($k) ? (int)$k : $k, $v)) {
			return 1;
		}
		$v = $v[ctype_digit($k) ? (int)$k : $k];
	}
	out(is_scalar($v) ? var_export($v, true) : json_encode($v));
	return 0;
}

function cmdSystemDelete(array $config, array $o, array $p): int {
	if (count($p) === 1) {
		unset($config[$p[0]]);
	} elseif (count($p) === 2 && isset($config[$p[0]]) && is_array($config[$p[0]])) {
		unset($config[$p[0]][ctype_digit($p[1]) ? (int)$p[1] : $p[1]]);
	} elseif (!empty($o['error-if-not-exists'])) {
		return 1;
	}
	writeConfig($config);
	return 0;
}

function cmdAppSet(array $config, array $o, array $p): int {
	if (count($p) !== 2 || !array_key_exists('value', $o)) {
		throw new Fail('config:app:set needs <app> <name> --value=');
	}
	$db = readDb($config);
	$db['appconfig'][$p[0]][$p[1]] = $o['value'];
	writeDb($config, $db);
	out("Config value '{$p[1]}' for app '{$p[0]}' is now set to '{$o['value']}'");
	return 0;
}

function cmdAppGet(array $config, array $o, array $p): int {
	$db = readDb($config);
	if (!isset($db['appconfig'][$p[0]][$p[1]])) {
		return 1;
	}
	out((string)$db['appconfig'][$p[0]][$p[1]]);
	return 0;
}

function cmdAppEnable(array $config, array $o, array $p): int {
	$db = readDb($config);
	foreach ($p as $app) {
		if (appPath($config, $app) === null) {
			// Enabling an app that is not on disk means installing it from the app store.
			if (!cfg($config, 'appstoreenabled', true)) {
				throw new Fail("$app not found (the app store is disabled)");
			}
			throw new Fail("$app cannot be installed here: the fake has no app store");
		}
		$db['appconfig'][$app]['enabled'] = 'yes';
		$db['appconfig'][$app]['installed_version'] = appCodeVersion($config, $app);
		out("$app " . appCodeVersion($config, $app) . ' enabled');
	}
	writeDb($config, $db);
	return 0;
}

function cmdAppList(array $config, array $o, array $p): int {
	out(json_encode(['enabled' => enabledApps(readDb($config))]));
	return 0;
}

function cmdBackgroundCron(array $config, array $o, array $p): int {
	$db = readDb($config);
	$db['appconfig']['core']['backgroundjobs_mode'] = 'cron';
	writeDb($config, $db);
	out('Set mode for background jobs to \'cron\'');
	return 0;
}

function cmdOidcProvider(array $config, array $o, array $p): int {
	$given = array_filter([$o['clientsecret'] ?? null, $o['clientsecret-file'] ?? null, $o['clientsecret-env'] ?? null], fn ($v) => $v !== null);
	if (count($given) > 1) {
		out('Only one of "--clientsecret", "--clientsecret-file" or "--clientsecret-env" can be used.');
		return 1;
	}
	$secret = $o['clientsecret'] ?? null;
	if (isset($o['clientsecret-env'])) {
		$secret = getenv($o['clientsecret-env']);
		if ($secret === false || $secret === '') {
			out('The environment variable ' . $o['clientsecret-env'] . ' is not set');
			return 1;
		}
	}
	if ($p === []) {
		return 0;
	}
	$db = readDb($config);
	$provider = $db['oidc'][$p[0]] ?? [];
	foreach ($o as $k => $v) {
		if (!in_array($k, ['clientsecret', 'clientsecret-file', 'clientsecret-env', 'output', 'no-interaction'], true)) {
			$provider[$k] = $v;
		}
	}
	if ($secret !== null) {
		$provider['clientsecret-sha256'] = hash('sha256', $secret);
	}
	$db['oidc'][$p[0]] = $provider;
	writeDb($config, $db);
	return 0;
}

$argvIn = $_SERVER['argv'];
if (($log = getenv('FAKE_NEXTCLOUD_LOG')) !== false && $log !== '') {
	file_put_contents($log, json_encode([
		'argv' => $argvIn,
		'cmdline' => str_replace("\0", ' ', (string)@file_get_contents('/proc/self/cmdline')),
		'uid' => posix_getuid(),
		'env' => getenv('OBJECTSTORE_S3_SECRET_FILE') ?: '',
	]) . "\n", FILE_APPEND);
}

try {
	$configFile = OC::$configDir . 'config.php';
	if (!file_exists($configFile)) {
		@touch($configFile);
	}
	$uid = posix_getuid();
	$owner = @fileowner($configFile);
	if ($uid !== $owner) {
		out('Console has to be executed with the user that owns the file config/config.php');
		out('Current user id: ' . $uid);
		out('Owner id of config.php: ' . var_export($owner, true));
		exit(1);
	}
	$config = readConfig();
	$args = array_slice($argvIn, 1);
	$name = array_shift($args) ?? 'list';
	$available = commands($config);
	if (installed($config) && needUpgrade($config)) {
		err('Nextcloud or one of the apps require upgrade - only a limited number of commands are available');
	} elseif (installed($config) && cfg($config, 'maintenance', false) && !in_array($name, ['maintenance:mode', 'status', '_completion'], true)) {
		err('Nextcloud is in maintenance mode, no apps are loaded.');
		err('Commands provided by apps are unavailable.');
	} elseif (!installed($config) && $name !== 'maintenance:install') {
		err('Nextcloud is not installed - only a limited number of commands are available');
	}
	if ($name !== 'check') {
		$errors = checkServer($config);
		if ($errors !== []) {
			foreach ($errors as $e) {
				out($e);
			}
			throw new Fail('Environment not properly prepared.');
		}
	}
	if (!isset($available[$name])) {
		err("Command \"$name\" is not defined.");
		exit(1);
	}
	[$spec, $handler] = $available[$name];
	[$options, $positional] = parseArgs($name, $args, $spec);
	exit($handler($config, $options, $positional));
} catch (Fail $e) {
	out('An unhandled exception has been thrown:');
	out('Exception: ' . $e->getMessage());
	exit($e->exitCode);
}
