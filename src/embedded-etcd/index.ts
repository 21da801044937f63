/**
 * The one place that starts local etcd processes: the service's embedded zero-config etcd and every
 * test that needs a real member or a 3-member cluster on loopback. Everything binds to one host
 * (127.0.0.1 by default) on ports picked at run time, so runs never clash with another etcd.
 */
export { ETCD_INSTALL_COMMAND, ensureEtcdInstalled, findEtcdBinary } from './etcd-binary.js';
export { freePort } from './free-port.js';
export { startEtcdMember, type EtcdMember, type EtcdMemberOptions } from './etcd-member.js';
export { startEtcdCluster, type EtcdCluster, type EtcdClusterOptions } from './etcd-cluster.js';
export { processState, stopProcess } from './process-state.js';
