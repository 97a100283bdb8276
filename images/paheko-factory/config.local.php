<?php
// paheko-factory: the image's default multi-site configuration (/var/www/paheko/config.local.php).
// The service factory replaces this file with the one it renders (src/paheko/config.ts); this default makes
// the image usable on its own, configured from the environment.
//
// Paheko defines every PAHEKO_<NAME> environment variable as the constant Paheko\<NAME> before it reads
// this file (Paheko 1.3.15, src/include/init.php:19-24), so any constant of src/config.dist.php can be set
// that way (PAHEKO_SMTP_HOST=…, PAHEKO_MAIL_SENDER=…); values from the environment are strings. This file
// only adds defaults for what is not set, and the organisation selection:
//   PAHEKO_FACTORY_DOMAIN       required: organisation <org> answers on <org>.<FACTORY_DOMAIN>
//   PAHEKO_FACTORY_DOMAINS      optional: more hostnames, "host=org host2=org2" (any domain, not only
//                               sub-domains: the stock factory file maps sub-domains only)
//   PAHEKO_SECRET_KEY           or PAHEKO_SECRET_KEY_FILE (default /run/secrets/paheko/secret_key)
//   PAHEKO_SMTP_PASSWORD_FILE   optional: file holding the SMTP password
//   PAHEKO_FACTORY_USER         CLI runs (cron): the organisation to run for
// One folder per organisation under FACTORY_USER_DIRECTORY (default /data/users), created by the operator
// (mkdir /data/users/<org>): an unknown host or a missing folder answers 404, like the stock factory file
// (tools/factory/config.local.php:78-101).

namespace Paheko;

$factory_defaults = [
	'FACTORY_USER_DIRECTORY' => '/data/users',
	'SHARED_CACHE_ROOT'      => '/data/cache',
	// Plugins shipped in the release (ROOT/data/plugins); the default DATA_ROOT/plugins would be a
	// different, empty folder per organisation (src/include/init.php:184).
	'PLUGINS_ROOT'           => __DIR__ . '/data/plugins',
	'SECRET_KEY_FILE'        => '/run/secrets/paheko/secret_key',
	'ENABLE_UPGRADES'        => false,
	'USE_CRON'               => true,
	'ENABLE_TECH_DETAILS'    => false,
	'SHOW_ERRORS'            => false,
	'MAIL_ERRORS'            => false,
];

foreach ($factory_defaults as $name => $value) {
	if (!defined('Paheko\\' . $name)) {
		define('Paheko\\' . $name, $value);
	}
}

unset($factory_defaults, $name, $value);

$factory_fail = static function (int $code, string $message): void {
	http_response_code($code);

	if (PHP_SAPI === 'cli') {
		fwrite(STDERR, 'paheko-factory: ' . $message . PHP_EOL);
		exit(1);
	}

	die('<h1>' . htmlspecialchars($message) . '</h1>');
};

$factory_read = static function (string $file) use ($factory_fail): string {
	$value = @file_get_contents($file);

	if ($value === false) {
		$factory_fail(500, 'Configuration error');
	}

	return trim($value);
};

if (!defined('Paheko\FACTORY_DOMAIN') || FACTORY_DOMAIN === '') {
	$factory_fail(500, 'Configuration error: set PAHEKO_FACTORY_DOMAIN or upload config.local.php');
}

// Never let Paheko generate a key: it would try to write it into this read-only file
// (src/include/init.php:489-497).
if (!defined('Paheko\SECRET_KEY')) {
	define('Paheko\SECRET_KEY', $factory_read(SECRET_KEY_FILE));
}

if (!defined('Paheko\SMTP_PASSWORD') && defined('Paheko\SMTP_PASSWORD_FILE')) {
	define('Paheko\SMTP_PASSWORD', $factory_read(SMTP_PASSWORD_FILE));
}

$factory_login_regexp = '/^[a-z0-9_-]{1,63}$/';
$factory_suffix = '.' . strtolower(FACTORY_DOMAIN);
$factory_map = [];

foreach (preg_split('/[\s,]+/', defined('Paheko\FACTORY_DOMAINS') ? (string) FACTORY_DOMAINS : '', -1, PREG_SPLIT_NO_EMPTY) as $pair) {
	$parts = explode('=', $pair, 2);

	if (count($parts) === 2) {
		$factory_map[strtolower($parts[0])] = $parts[1];
	}
}

$login = null;
$host = null;

if (PHP_SAPI === 'cli') {
	// Paheko's CLI sets HTTP_HOST to 'localhost' (src/include/lib/Paheko/CLI.php:824): CLI runs are
	// selected by PAHEKO_FACTORY_USER only (tools/factory/config.local.php:87-89); their URL is the
	// organisation's first mapped hostname, else its sub-domain.
	$login = getenv('PAHEKO_FACTORY_USER') ?: null;
	$host = array_search($login, $factory_map, true) ?: $login . $factory_suffix;
}
else {
	$host = strtolower((string) ($_SERVER['HTTP_HOST'] ?? $_SERVER['SERVER_NAME'] ?? ''));
	$host = preg_replace('/:\d+$/', '', $host);

	if (isset($factory_map[$host])) {
		$login = $factory_map[$host];
	}
	elseif (strlen($host) > strlen($factory_suffix) && substr($host, -strlen($factory_suffix)) === $factory_suffix) {
		$login = substr($host, 0, -strlen($factory_suffix));
	}
}

if ($login === null || !preg_match($factory_login_regexp, $login)) {
	$factory_fail(404, 'Page non trouvée');
}

$user_data_dir = rtrim(FACTORY_USER_DIRECTORY, '/') . '/' . $login;

if (!is_dir($user_data_dir)) {
	$factory_fail(404, "Cette association n'existe pas.");
}

define('Paheko\DATA_ROOT', $user_data_dir);
define('Paheko\WWW_URL', 'https://' . $host . '/');
define('Paheko\WWW_URI', '/');

unset($factory_fail, $factory_read, $factory_login_regexp, $factory_suffix, $factory_map, $pair, $parts, $login, $host,
	$user_data_dir);
