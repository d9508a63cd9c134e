package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// CronJob is one cron.yaml entry the cluster runs: a GET of URL on its service with
// X-Appengine-Cron set, on its schedule.
type CronJob struct {
	URL      string
	Target   string // the service; dispatch.yaml may route the URL elsewhere, as on App Engine
	Schedule string
	Line     int

	every time.Duration  // "every N minutes|hours"
	at    *time.Location // with daily: "every day HH:MM" in the entry's timezone
	daily time.Duration  // the time of day
}

// Next is the first run of the job after t: an interval job every N after t, a daily one
// at its time of day in its timezone.
func (j CronJob) Next(t time.Time) time.Time {
	if j.every > 0 {
		return t.Add(j.every)
	}
	lt := t.In(j.at)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, j.at)
	next := day.Add(j.daily)
	if !next.After(t) {
		next = time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, j.at).Add(j.daily)
	}
	return next
}

// Interval reports whether the job runs every N (rather than at a time of day).
func (j CronJob) Interval() bool { return j.every > 0 }

// ParseCron reads cron.yaml. Only the schedules Greep's cron.yaml uses are understood
// ("every N minutes", "every N hours", "every day HH:MM"); any other is refused with its
// line rather than run at a wrong time. Every target must be in known.
func ParseCron(file string, b []byte, known map[string]bool) ([]CronJob, error) {
	root, err := document(file, b)
	if err != nil {
		return nil, err
	}
	list := field(root, "cron")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, errAt(file, root, "want a cron: list")
	}
	var jobs []CronJob
	for _, n := range list.Content {
		if n.Kind != yaml.MappingNode {
			return nil, errAt(file, n, "a cron entry: want {url, schedule, ...}")
		}
		var j CronJob
		var sn, tn, zn *yaml.Node
		var zone string
		for _, f := range []struct {
			key  string
			dst  *string
			node **yaml.Node
		}{{"url", &j.URL, nil}, {"schedule", &j.Schedule, &sn}, {"target", &j.Target, &tn}, {"timezone", &zone, &zn}} {
			v, vn, err := scalar(file, n, f.key)
			if err != nil {
				return nil, err
			}
			*f.dst = v
			if f.node != nil {
				*f.node = vn
			}
		}
		j.Line = n.Line
		if !strings.HasPrefix(j.URL, "/") {
			return nil, errAt(file, n, "cron url %q: want a path starting with /", j.URL)
		}
		if j.Target == "" {
			j.Target = defaultService
		}
		if !known[j.Target] {
			return nil, errAt(file, tn, "target %q is not one of the app's services (%s)", j.Target, names(known))
		}
		if j.at, err = time.LoadLocation(orUTC(zone)); err != nil {
			return nil, errAt(file, zn, "timezone %q: %v", zone, err)
		}
		if err := j.parseSchedule(); err != nil {
			return nil, errAt(file, sn, "schedule %q: %v", j.Schedule, err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func orUTC(zone string) string {
	if zone == "" {
		return "UTC"
	}
	return zone
}

func (j *CronJob) parseSchedule() error {
	f := strings.Fields(j.Schedule)
	if len(f) == 3 && f[0] == "every" && f[1] == "day" {
		h, m, ok := strings.Cut(f[2], ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
			return fmt.Errorf("want HH:MM after every day")
		}
		j.daily = time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
		return nil
	}
	if len(f) == 3 && f[0] == "every" {
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 {
			return fmt.Errorf("want a positive count after every")
		}
		switch f[2] {
		case "minutes", "mins", "minute", "min":
			j.every = time.Duration(n) * time.Minute
		case "hours", "hour":
			j.every = time.Duration(n) * time.Hour
		default:
			return fmt.Errorf("unit %q: want minutes or hours", f[2])
		}
		return nil
	}
	return fmt.Errorf("greep cluster understands \"every N minutes\", \"every N hours\" and \"every day HH:MM\"")
}
