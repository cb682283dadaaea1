"""Reporting for the Docker deployment test: measurements a test passes to
report() are printed at the end of the run as "tern-docker: ..." lines
(tests/run-all.sh shows them)."""

REPORT = []


def report(line):
    REPORT.append(line)


def pytest_terminal_summary(terminalreporter):
    for line in REPORT:
        terminalreporter.write_line("tern-docker: " + line)
