import { buildServices, DIST_DIR } from './build.ts';

const { bundles } = await buildServices();
console.log(`built ${Object.keys(bundles).length} bundles in ${DIST_DIR}`);
