"""The console in headless Chromium against a sandbox with finished runs: the graph says what the history says,
the Map Run lists every work item, the region picture shows the region-status table, the inventory pages
through the query API, and a running execution's page changes when it finishes, without a reload."""

from __future__ import annotations

import threading
from urllib.parse import quote

from browser_support import screenshot
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from sandbox.console.fleet_pages import cell_status
from sandbox.drs import clock

ASL_STATES = {
    "Resolve the scan plan",
    "Is another run in progress?",
    "Note the skipped run",
    "Scan each account and region",
    "Summarize the run",
    "Update region status",
    "Invalidate the region cache",
    "Finish the run",
    "Did a shared task fail?",
    "Hand back the summary",
}
# Where a failed task leads: never entered by a run whose every task succeeded.
FAILURE_STATES = {
    "Fail: InvalidSyncInput",
    "Fail: RunNotPlanned",
    "Fail: RunNotSummarized",
    "Fail: RegionStatusNotUpdated",
    "Fail: RegionCacheNotInvalidated",
    "Fail: RunNotFinished",
}


def open_page(driver, url):
    driver.get(url)
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.TAG_NAME, "main")))


def by_testid(driver, testid):
    return driver.find_elements(By.CSS_SELECTOR, f"[data-testid='{testid}']")


def test_the_index_lists_the_runs_of_every_state_machine(browser, url, sb, runs):
    open_page(browser, f"{url}/console/")
    machines = {m.text for m in by_testid(browser, "machine")}
    assert machines == {arn.rsplit(":", 1)[-1] for arn in sb.state_machines.values()}
    links = {a.text for a in by_testid(browser, "execution-link")}
    assert {r["executionArn"].rsplit(":", 1)[-1] for r in runs.values()} <= links
    screenshot(browser, "index")


def test_the_graph_shows_every_state_with_the_status_its_history_says(browser, url, sb, runs):
    arn = runs["filtered"]["executionArn"]
    open_page(browser, f"{url}/console/executions/{quote(arn, safe='')}")
    drawn = {g.get_attribute("data-state"): g.get_attribute("data-status") for g in by_testid(browser, "state")}
    assert set(drawn) == ASL_STATES | FAILURE_STATES | {"Start", "End"}
    entered = {e["stateEnteredEventDetails"]["name"] for e in sb.history(arn) if e["type"].endswith("StateEntered")}
    assert entered == ASL_STATES - {"Note the skipped run"}
    assert {s for s, status in drawn.items() if status == "succeeded"} == entered | {"Start", "End"}
    assert drawn["Note the skipped run"] == "not-entered"
    assert {drawn[s] for s in FAILURE_STATES} == {"not-entered"}
    history_rows = by_testid(browser, "event")
    assert [r.get_attribute("data-type") for r in history_rows] == [e["type"] for e in sb.history(arn)]
    browser.find_element(By.CSS_SELECTOR, "[data-state='Resolve the scan plan'] rect").click()
    detail = browser.find_element(By.CSS_SELECTOR, "[data-testid='state-detail']")
    assert "succeeded" in detail.text and '"decision": "filtered"' in detail.text
    screenshot(browser, "execution")


def test_the_map_state_opens_its_map_run_with_one_row_per_work_item(browser, url, runs):
    arn = runs["first"]["executionArn"]
    open_page(browser, f"{url}/console/executions/{quote(arn, safe='')}")
    browser.find_element(By.CSS_SELECTOR, "[data-state='Scan each account and region'] rect").click()
    by_testid(browser, "map-run-link")[0].click()
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='children']")))
    rows = by_testid(browser, "child")
    listed = {(r.get_attribute("data-account"), r.get_attribute("data-region")) for r in rows}
    assert listed == {(i["accountId"], i["region"]) for i in runs["first"]["workItems"]}
    assert len(rows) == runs["first"]["workItemCount"]
    (uninitialized,) = [r for r in rows if r.get_attribute("data-account") == "111111111111" and "ap-south-1" in r.text]
    assert "UNINITIALIZED" in uninitialized.text and "UninitializedAccountException" in uninitialized.text
    screenshot(browser, "map-run")
    Select(by_testid(browser, "status-filter")[0]).select_by_value("FAILED")
    WebDriverWait(browser, 30).until(lambda d: "status=FAILED" in d.current_url)
    assert by_testid(browser, "child") == []  # a failed pair is the worker's result: its child succeeded


def test_the_region_picture_shows_the_region_status_table(browser, url, sb, runs):
    open_page(browser, f"{url}/console/regions")
    cells = {
        (c.get_attribute("data-account"), c.get_attribute("data-region")): c for c in by_testid(browser, "region-cell")
    }
    rows = sb.items("region-status")
    assert rows
    for row in rows:
        cell = cells[(row["accountId"], row["region"])]
        assert cell.get_attribute("data-status") == cell_status(row)
        if row.get("serverCount"):
            assert f"{row['serverCount']} servers" in cell.text
    assert cells[("222222222222", "us-west-2")].get_attribute("data-status") == "ACCESS_DENIED"
    marked = {k for k, c in cells.items() if c.get_attribute("data-next-scan") == "true"}
    active = {(r["accountId"], r["region"]) for r in rows if (r.get("serverCount") or 0) > 0}
    assert active <= marked and ("111111111111", "ap-south-1") not in marked
    screenshot(browser, "regions")


def test_the_inventory_filters_pages_and_shows_a_failback_topology(browser, url, runs):
    open_page(browser, f"{url}/console/inventory?accountId=111111111111&limit=3")
    servers = [s.text for s in by_testid(browser, "server")]
    assert len(servers) == 3 and all("111111111111" in text for text in servers)
    by_testid(browser, "next-page")[0].click()
    WebDriverWait(browser, 30).until(lambda d: "nextToken=" in d.current_url)
    second = by_testid(browser, "server")
    assert second and not {s.text for s in second} & set(servers)
    by_testid(browser, "topology-link")[0].click()
    WebDriverWait(browser, 30).until(lambda d: "Failback topology" in d.page_source)
    screenshot(browser, "inventory")


class HeldClock(clock.SystemClock):
    """The simulator's clock with its latency sleeps held until `release()`: a latency fault then keeps the
    execution running for exactly as long as the test wants, however fast or virtual time is."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.gate.wait(120)

    def release(self) -> None:
        self.gate.set()


def test_a_running_execution_page_changes_when_it_finishes_without_a_reload(browser, url, sb, runs):
    held = HeldClock()
    sb.set_faults([{"region": "us-east-1", "operation": "DescribeSourceServers", "latencyMs": 1}])
    previous = clock.install(held)
    try:
        arn = sb.start_sync("inventory", {"regions": ["us-east-1"]})
        open_page(browser, f"{url}/console/executions/{quote(arn, safe='')}")
        main = browser.find_element(By.CSS_SELECTOR, "main")
        assert main.get_attribute("data-status") == "RUNNING"  # held by the clock until released below
        browser.execute_script("window.consoleMarker = 'same page';")
        screenshot(browser, "execution-running")
        held.release()
        WebDriverWait(browser, 120, poll_frequency=0.5).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "main").get_attribute("data-status") == "SUCCEEDED"
        )
    finally:
        held.release()
        clock.install(previous)
        sb.set_faults([])
    assert sb.wait(arn)["status"] == "SUCCEEDED"
    assert browser.execute_script("return window.consoleMarker") == "same page"  # updated in place
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid='status']").text == "SUCCEEDED"
    drawn = {g.get_attribute("data-state"): g.get_attribute("data-status") for g in by_testid(browser, "state")}
    assert drawn["Finish the run"] == "succeeded" and drawn["Scan each account and region"] == "succeeded"
