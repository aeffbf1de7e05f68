// What the mini-program and the console write against baodao's generated types (openapi-typescript). Type-checked
// with tsc --strict by tests/test_generated_clients.py: a change to the document that would break these lines fails
// the suite.
import type { components, paths } from "./baodao";

type Activity = components["schemas"]["Activity"];
type ActivityInput = components["schemas"]["ActivityInput"];
type ActivityPage = paths["/api/v1/activities"]["get"]["responses"][200]["content"]["application/json"];
type ErrorEnvelope = components["schemas"]["ErrorEnvelope"];
type ScanResult = paths["/api/v1/checkins"]["post"]["responses"][201]["content"]["application/json"];
type Project = components["schemas"]["Project"];
type Me = paths["/api/v1/me"]["get"]["responses"][200]["content"]["application/json"];

export function newActivity(communityId: number): ActivityInput {
  return {
    community_id: communityId,
    title: "清理楼道杂物",
    category: "environment",
    starts_at: "2027-03-06T09:00:00+08:00",
    ends_at: "2027-03-06T11:00:00+08:00",
    capacity: 20,
    location: { address: "示范路 1 号", lat: 39.9, lng: 116.4, radius_m: 200 },
  };
}

// Every field an answer carries is required: no `undefined` checks on what is always there.
export function seatsLeft(activity: Activity): number {
  return activity.capacity - activity.signed_up;
}

export function titles(page: ActivityPage): string[] {
  return page.items.map((activity) => `${activity.title}（${activity.status}）`);
}

export function explain(failure: ErrorEnvelope): string {
  const fields = Object.keys(failure.error.details).join("、");
  return fields ? `${failure.error.message}：${fields}` : failure.error.message;
}

export function checkedOutHours(result: ScanResult): number | null {
  return result.action === "check_out" && result.service_record ? result.service_record.hours : null;
}

export function needCount(project: Project): number {
  return project.need_ids.length;
}

export function greeting(me: Me): string {
  return `${me.name ?? me.volunteer_number}：${me.approved_hours} 小时，${me.star_level} 星`;
}
