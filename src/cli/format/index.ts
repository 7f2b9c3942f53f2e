// Text and JSON layouts of every `show` / conntrackd-compatible output. Pure functions.
export {
  type StatsView, resolveStatsView, formatStats, formatStatsCt, formatStatsExpect, formatStatsNetwork,
  formatStatsCache, formatStatsRuntime, formatStatsLink, formatStatsRsqueue, formatStatsQueue, formatStatsProcess,
  formatVyosStatistics, formatUptime, formatActiveLink, activeLink,
} from './stats.ts';
export {
  type CacheEntryView, type ExpectEntryView, type FlowTextOptions, formatFlowText, formatCacheEntry, formatCacheDump,
  formatExpectText, formatExpectEntry, formatExpectDump,
} from './dump.ts';
export { type FlowXmlOptions, formatFlowXml, formatFlowXmlDump, formatExpectXml, formatExpectXmlDump } from './xml.ts';
export {
  type CacheRow, type StatusView, type ConntrackTableRow, type ConntrackTableOptions, flowRow, expectRow, tabulateSimple,
  formatVyosCacheTable, formatVyosStatus, statusViewOf, formatDateC, expectSyncDisplay, tcpStateCode, conntrackTableRow,
  formatConntrackTable, CONNTRACK_LEGEND, CONNTRACK_NOT_ENABLED,
} from './vyos.ts';
export {
  type ConntrackTableEntry, toJson, statsData, vyosStatisticsData, cacheDumpData, expectDumpData, cacheTableData,
  statusData, conntrackTableData,
} from './json.ts';
