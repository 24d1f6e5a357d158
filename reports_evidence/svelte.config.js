// The report is Evidence's single-page app: the pages query their Parquet files in the browser, so the
// compiled app does not depend on the data and a refresh only publishes new data next to it
// (resources/evidence.py). `fallback` is the page every route folder gets a copy of.
import adapter from '@sveltejs/adapter-static';

/** @type {import("@sveltejs/kit").Config} */
export default {
	kit: {
		adapter: adapter({
			pages: process.env.EVIDENCE_BUILD_DIR ?? './build',
			fallback: 'index.html',
			strict: false
		})
	}
};
