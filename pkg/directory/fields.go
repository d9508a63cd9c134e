package directory

import "google.golang.org/api/googleapi"

// The fields of a list page the worker keeps, asked for as a partial response (Google's
// `fields` parameter): a members.list page without each member's kind, etag and
// delivery settings is under half the bytes to send, read and decode, and a sweep reads
// one a group. Whatever fromGroup and membersPage read must be here: a field left out
// comes back empty. The bench's floor asks for the same pages.
var (
	MemberFields = []googleapi.Field{"nextPageToken", "members(id,email,role,type,status)"}
	GroupFields  = []googleapi.Field{"nextPageToken", "groups(id,email,name,description,directMembersCount,aliases,nonEditableAliases,etag)"}
)
