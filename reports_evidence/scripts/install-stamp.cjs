// Written after every `npm ci` / `npm install` (postinstall): records which package-lock.json and
// patches node_modules was installed from, so resources/evidence.py only reinstalls when they change.
// Same digest as EvidenceCLI._lock_digest(): sha256(lock bytes, then each patch's name and bytes, sorted).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const hash = crypto.createHash('sha256');
hash.update(fs.readFileSync('package-lock.json'));
const patches = fs.existsSync('patches') ? fs.readdirSync('patches').filter((f) => f.endsWith('.patch')).sort() : [];
for (const name of patches) {
	hash.update(name);
	hash.update(fs.readFileSync(path.join('patches', name)));
}
fs.writeFileSync(path.join('node_modules', '.rop-install-stamp'), hash.digest('hex'));
