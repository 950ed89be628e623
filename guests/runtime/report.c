/* Check results, the summary line and the exit protocol. */
#include "guest.h"

static unsigned passed, failed, skipped;

static void line(const char *tag, const char *fmt, va_list ap)
{
	char buf[400];
	int n = snprintf(buf, sizeof(buf), "%s: ", tag);

	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	console_write(buf, n);
}

void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(ok ? "PASS" : "FAIL", fmt, ap);
	va_end(ap);
	if (ok)
		passed++;
	else
		failed++;
}

void report_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line("SKIP", fmt, ap);
	va_end(ap);
	skipped++;
}

void report_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line("INFO", fmt, ap);
	va_end(ap);
}

unsigned report_failures(void)
{
	return failed;
}

int report_summary(void)
{
	printf("SUMMARY: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
	if (failed)
		return 1;
	if (!passed && skipped)
		return 38;	/* STATUS=77: the harness's "skipped" */
	return 0;
}

void exit(int code)
{
	printf("\nEXIT: STATUS=%d\n", (code << 1) | 1);
	rtas_call("power-off", 2, 1, NULL, -1, -1);
	/* power-off returned: the machine did not stop us.  Stay here. */
	for (;;)
		hcall(H_CEDE);
}

void abort_msg(const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("ABORT: %s\n", buf);
	exit(63);	/* STATUS=127, the harness's abort() */
}
