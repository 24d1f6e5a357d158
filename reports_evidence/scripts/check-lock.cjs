// Run before `npm ci` (make node): a lock npm ci would choke on is named here, with the fix.
// Two marks of a bad lock, both seen on these machines: entries without a `version` (a lock written
// with --package-lock-only; npm ci dies with "Invalid Version:"), and an optional platform package a
// locked package asks for that has no entry of its own (npm ci: "Missing: X@ from lock file"; the
// registry lacked that version when the lock was written).
const fs = require('fs');
const path = require('path');

const file = path.join(__dirname, '..', 'package-lock.json');
let lock;
try {
	lock = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
	console.error(`reports_evidence/package-lock.json cannot be read: ${err.message}`);
	process.exit(1);
}
const packages = lock.packages || {};
const problems = [];
for (const [where, entry] of Object.entries(packages)) {
	if (!where || entry.link) continue;
	if (!entry.version) problems.push(`${where}: no version`);
	for (const name of Object.keys(entry.optionalDependencies || {})) {
		// Node's resolution: the nearest node_modules/<name> walking up from `where`.
		let dir = where;
		let found = false;
		while (true) {
			if (packages[`${dir}/node_modules/${name}`]) { found = true; break; }
			const up = dir.lastIndexOf('/node_modules/');
			if (up < 0) break;
			dir = dir.slice(0, up);
		}
		if (!found && !packages[`node_modules/${name}`]) problems.push(`${where}: optional ${name} not in the lock`);
	}
}
if (lock.lockfileVersion !== 3) problems.push(`lockfileVersion ${lock.lockfileVersion}, expected 3`);
if (problems.length) {
	console.error(`reports_evidence/package-lock.json is malformed (${problems.length} problem(s)); npm ci would fail:`);
	for (const p of problems.slice(0, 20)) console.error(`  ${p}`);
	console.error('Regenerate it with a full install: cd reports_evidence && npm run lock');
	process.exit(1);
}
console.log(`reports_evidence/package-lock.json: ${Object.keys(packages).length - 1} packages, every one with a version`);
