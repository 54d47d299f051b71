/* The dashboard page and its data (controller/dashboard.h). */
#include "controller/dashboard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern const char sb_dashboard_html[], sb_dashboard_html_end[];

static const char MARK[] = "null; /*SB_REPORT*/";

const char *sb_dashboard_page(size_t *len) {
  *len = (size_t)(sb_dashboard_html_end - sb_dashboard_html);
  return sb_dashboard_html;
}

/* A JSON string (the report writer turns "</" into "<\/" for the <script> it goes into). */
static int put_str(sb_buf *out, const char *s) {
  int rc = sb_buf_append(out, "\"", 1);
  for (; s && *s && !rc; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') rc = sb_buf_printf(out, "\\%c", c);
    else if (c < 0x20) rc = sb_buf_printf(out, "\\u%04x", c);
    else rc = sb_buf_append(out, s, 1);
  }
  return rc | sb_buf_append(out, "\"", 1);
}

static int put_agents(sb_buf *out, const sb_dash_input *in) {
  int rc = sb_buf_puts(out, ",\"agents\":[");
  for (size_t i = 0; i < in->nagents && !rc; i++) {
    const sb_dash_agent *a = &in->agents[i];
    rc |= sb_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
    rc |= put_str(out, a->name);
    rc |= sb_buf_puts(out, ",\"state\":");
    rc |= put_str(out, a->state ? a->state : (a->lost ? "lost" : "ok"));
    rc |= sb_buf_printf(out, ",\"lost\":%s,\"vus\":%.0f,\"iterations\":%.0f,\"requests\":%.0f,"
                        "\"offset_ms\":%.3f,\"rtt_ms\":%.3f}", a->lost ? "true" : "false", a->vus,
                        a->iterations, a->requests, a->offset_ms, a->rtt_ms);
  }
  return rc | sb_buf_append(out, "]", 1);
}

int sb_dashboard_json(sb_buf *out, const sb_dash_input *in) {
  int rc = sb_buf_puts(out, "{\"status\":{\"phase\":");
  rc |= put_str(out, in->phase ? in->phase : "");
  rc |= sb_buf_printf(out, ",\"elapsed\":%.3f,\"script\":", in->elapsed_s);
  rc |= put_str(out, in->script ? in->script : "");
  rc |= sb_buf_append(out, "}", 1);
  if (in->timeline) {
    rc |= sb_buf_puts(out, ",\"timeline\":");
    rc |= sb_timeline_json(in->timeline, in->from, out);
  }
  if (in->total) {
    rc |= sb_buf_puts(out, ",\"urls\":");
    rc |= sb_timeline_urls_json(in->total, 50, out);
  }
  rc |= sb_buf_puts(out, ",\"thresholds\":[");
  for (size_t i = 0; i < in->nthresholds && !rc; i++) {
    rc |= sb_buf_puts(out, i ? ",{\"metric\":" : "{\"metric\":");
    rc |= put_str(out, in->thresholds[i].metric);
    rc |= sb_buf_puts(out, ",\"expr\":");
    rc |= put_str(out, in->thresholds[i].expr);
    rc |= sb_buf_printf(out, ",\"ok\":%s}", in->thresholds[i].ok ? "true" : "false");
  }
  rc |= sb_buf_puts(out, "],\"checks\":[");
  for (size_t i = 0; i < in->nchecks && !rc; i++) {
    rc |= sb_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
    rc |= put_str(out, in->checks[i].name);
    rc |= sb_buf_printf(out, ",\"passes\":%.0f,\"fails\":%.0f}", in->checks[i].passes,
                        in->checks[i].fails);
  }
  rc |= sb_buf_append(out, "]", 1);
  rc |= put_agents(out, in);
  rc |= sb_buf_append(out, "}", 1);
  return rc ? SB_ENOMEM : 0;
}

int sb_report_write(const char *path, const char *doc, size_t len, sb_err *err) {
  size_t plen;
  const char *page = sb_dashboard_page(&plen);
  const char *at = strstr(page, MARK);
  if (!at) return sb_err_set(err, SB_EINVAL, "the dashboard page has no report slot");
  FILE *f = fopen(path, "w");
  if (!f) return sb_err_set(err, SB_EIO, "%s: %s", path, strerror(errno));
  int bad = fwrite(page, 1, (size_t)(at - page), f) != (size_t)(at - page);
  for (size_t i = 0; i < len && !bad; i++) { /* "</" may not appear inside a <script> */
    if (doc[i] == '/' && i && doc[i - 1] == '<') bad = fputc('\\', f) == EOF;
    if (!bad) bad = fputc(doc[i], f) == EOF;
  }
  const char *rest = at + sizeof(MARK) - 1;
  if (!bad) bad = fputs(";", f) == EOF ||
                  fwrite(rest, 1, plen - (size_t)(rest - page), f) != plen - (size_t)(rest - page);
  if (fclose(f) != 0) bad = 1;
  return bad ? sb_err_set(err, SB_EIO, "%s: %s", path, strerror(errno ? errno : EIO)) : 0;
}
