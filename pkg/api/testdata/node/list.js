// Pages groups and members with Google's official Node.js client, pointed (rootUrl) at
// ROOT_URL with the bearer token TOKEN, and prints what it read as JSON. pkg/api's
// TestNodeClient runs it against Greep and against the simulator and compares.
'use strict';
const {google} = require('googleapis');

async function main() {
  const {ROOT_URL, TOKEN, GROUPS_PAGE, MEMBERS_PAGE, MEMBER_GROUPS} = process.env;
  const auth = new google.auth.OAuth2();
  auth.setCredentials({access_token: TOKEN});
  const admin = google.admin({version: 'directory_v1', auth, rootUrl: ROOT_URL.replace(/\/?$/, '/')});

  const out = {groups: [], groupPages: 0, members: {}, errors: {}};
  let pageToken;
  do {
    const res = await admin.groups.list({customer: 'my_customer', maxResults: Number(GROUPS_PAGE), pageToken});
    out.groupPages++;
    for (const g of res.data.groups || []) {
      out.groups.push({kind: g.kind, id: g.id, email: g.email, name: g.name, description: g.description || '',
        directMembersCount: g.directMembersCount, aliases: g.aliases || [], etag: g.etag});
    }
    pageToken = res.data.nextPageToken;
  } while (pageToken);

  for (const email of MEMBER_GROUPS.split(',')) {
    const ms = [];
    let token;
    do {
      const res = await admin.members.list({groupKey: email, maxResults: Number(MEMBERS_PAGE), pageToken: token});
      for (const m of res.data.members || []) {
        ms.push({kind: m.kind, id: m.id, email: m.email, role: m.role, type: m.type, status: m.status});
      }
      token = res.data.nextPageToken;
    } while (token);
    out.members[email] = ms;
  }

  // Errors come back as Google's: code and reason.
  try {
    await admin.groups.get({groupKey: 'no-such-group@nowhere.example'});
  } catch (e) {
    const errs = e.errors || (e.response && e.response.data && e.response.data.error && e.response.data.error.errors) || [];
    out.errors.notFound = {code: Number(e.code || e.status), reason: errs[0] && errs[0].reason};
  }
  try {
    await admin.members.list({groupKey: MEMBER_GROUPS.split(',')[0], maxResults: 201});
  } catch (e) {
    out.errors.maxResults = {code: Number(e.code || e.status)};
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});
