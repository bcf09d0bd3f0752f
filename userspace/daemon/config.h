/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's configuration: an INI file (/etc/prescient/prescient.conf)
 * and drop-ins (the *.conf files of prescient.conf.d, in lexical order,
 * later wins).
 *
 *   [daemon]   log_level, dry_run, state_dir, run_dir
 *   [libvirt]  uri, keepalive_interval, keepalive_count, reconnect_delay
 *   [collect]  interval, cgroup_root, proc_root, netlink, bpf
 *   [forecast] step, horizon, model, history, refit_every
 *   [cpu]      manage, lead_time, headroom, min_cores, max_cores,
 *              lower_after, lower_ratio, period
 *   [alloc]    manage, class, risk_bound_cpu, risk_bound_memory,
 *              risk_bound_net, risk_bound_disk, lead_time, headroom,
 *              lease_ttl, memory_manage, net_manage, disk_manage,
 *              hugepages_manage
 *   [pool]     host_reserved_cores, host_reserved_memory, uplink,
 *              uplink_capacity, disk_capacity
 *   [safety]   enable, cpu_pressure, memory_pressure, io_pressure, persist,
 *              cooldown
 *   [api]      socket, max_clients, client_timeout
 *   [hook]     fail_open, timeout   (read by the hook program too)
 *   [vm NAME]  model, cpu_manage, class, pin   (per VM, NAME = its name or
 *              UUID; at most CONFIG_VMS_MAX sections, the same NAME again
 *              merges; pin = yes needs class guaranteed or no class)
 *
 * Unknown sections or keys, bad values and missing files named by --config
 * are errors with file:line and what to do; nothing is applied then.
 */
#ifndef PRESCIENT_DAEMON_CONFIG_H
#define PRESCIENT_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forecast.h"
#include "pool.h"

/*
 * inih keeps 49 characters of a section name: "vm " and the VM's name must
 * fit, so longer names are refused (name the VM by its UUID instead).
 */
#define CONFIG_VM_KEY_MAX 45
#define CONFIG_VMS_MAX	  64
/* IFNAMSIZ (16) including the NUL. */
#define CONFIG_IFNAME_MAX 16

/* A [vm NAME] section: settings that override the global ones for one VM. */
struct config_vm {
	char key[CONFIG_VM_KEY_MAX + 1]; /* the VM's name or UUID */
	bool has_model;
	enum forecast_model model; /* for the VM's forecasters, resources and metrics */
	bool has_cpu_manage;
	bool cpu_manage;
	bool has_class;
	enum pool_class cls; /* how its reservations are sized and overcommitted */
	bool has_pin;
	bool pin; /* dedicated cores, reserved whole; implies class guaranteed */
};

struct config {
	/* [daemon] */
	int log_level;	     /* syslog level, default LOG_INFO */
	bool dry_run;	     /* decide and log, enforce nothing */
	char state_dir[256]; /* default PRESCIENT_STATE_DIR */
	char run_dir[256];   /* default PRESCIENT_RUN_DIR "/prescient" */
	/* [libvirt] */
	char libvirt_uri[256];		 /* default "qemu:///system" */
	uint32_t keepalive_interval_sec; /* default 5 */
	uint32_t keepalive_count;	 /* default 3 */
	uint64_t reconnect_delay_usec;	 /* default 1 s */
	/* [collect] */
	uint64_t collect_interval_usec; /* default 1 s */
	char cgroup_root[256];		/* default /sys/fs/cgroup */
	char proc_root[256];		/* default /proc */
	bool netlink;			/* default true */
	bool bpf;			/* default true (falls back when unavailable) */
	/* [forecast] */
	uint64_t forecast_step_usec; /* default 60 s */
	uint32_t horizon_steps;	     /* default 15 */
	enum forecast_model model;   /* default FORECAST_AUTO */
	uint32_t history_steps;	     /* default 2016 (one week at 5 min) */
	uint32_t refit_every;	     /* default 60 steps */
	/* [cpu] */
	bool cpu_manage;		/* default true */
	uint32_t cpu_lead_steps;	/* look this many steps ahead, default 5 */
	double cpu_headroom;		/* allocation = upper95 * (1 + headroom), default 0.10 */
	double cpu_min_cores;		/* never below, default 0.10 */
	double cpu_max_cores;		/* never above; 0 = the VM's vCPU count */
	uint32_t cpu_lower_after_steps; /* hysteresis: steps of low demand before lowering, default
					   3 */
	double cpu_lower_ratio;		/* lower only when target < ratio * current, default 0.7 */
	uint64_t cpu_period_usec;	/* CFS period, default 100000 */
	/* [alloc] */
	bool alloc_manage; /* hold leases and enforce mem/net/disk/hugepages, default true */
	enum pool_class alloc_class;	  /* default class of a VM, default POOL_CLASS_BURSTABLE */
	double risk_bound[POOL_NR_KINDS]; /* allowed P(demand > capacity) per kind, each in
					     [0, 0.5]: cpu 0.05, memory 0.01, net 0.05, disk
					     0.05; hugepages always 0 (never overcommitted) */
	uint32_t alloc_lead_steps;	  /* key lead_time, for memory/net/disk, default 5 */
	double alloc_headroom;		  /* key headroom, default 0.10 */
	uint64_t lease_ttl_usec; /* key lease_ttl: unconfirmed offers expire, default 120 s */
	bool mem_manage;	 /* key memory_manage, default true */
	bool net_manage;	 /* default false: HTB on the uplink is opt-in */
	bool disk_manage;	 /* default true */
	bool hugepages_manage;	 /* default true */
	/* [pool] */
	double host_reserved_cores;	    /* never leased, default 0.5 */
	uint64_t host_reserved_mem_bytes;   /* key host_reserved_memory, default 1 GiB */
	char net_uplink[CONFIG_IFNAME_MAX]; /* key uplink; "" = the default route's interface */
	uint64_t net_capacity_bps;	    /* key uplink_capacity, bits/s; 0 = read its speed */
	uint64_t disk_capacity_bps;	    /* key disk_capacity, bytes/s; 0 = no disk dimension */
	/* [safety] */
	bool safety_enable;	    /* key enable, default true */
	double safety_cpu_pressure; /* PSI "some" avg10 percent thresholds, (0, 100]: */
	double safety_mem_pressure; /*   cpu 20, memory 10, io 30 */
	double safety_io_pressure;
	uint32_t safety_persist_ticks; /* key persist: ticks above threshold before acting, 2 */
	uint64_t safety_cooldown_usec; /* key cooldown, default 10 s */
	/* [api] */
	char api_socket[256];		  /* default <run_dir>/prescient.sock when empty */
	uint32_t api_max_clients;	  /* default 64 */
	uint64_t api_client_timeout_usec; /* default 10 s */
	/* [hook] */
	bool hook_fail_open; /* daemon unreachable: let the VM operation go on, default true */
	uint64_t hook_timeout_usec; /* connect + reply budget, default 1.5 s, at most 2 s */
	/* [vm NAME] */
	uint32_t n_vms;
	struct config_vm vms[CONFIG_VMS_MAX];
};

#define CONFIG_ERROR_MAX 512

void config_init_defaults(struct config *cfg);
/*
 * Loads main_path (must exist when required is true) then main_path + ".d/"
 * drop-ins. On error, ret is untouched and a message that names file, line,
 * key and what is accepted is logged.
 */
int config_load(const char *main_path, bool required, struct config *ret);
/* Parses one INI text into cfg; origin names it in messages. For tests and fuzzing. */
int config_parse_string(const char *text, const char *origin, struct config *cfg);

/*
 * Same as config_load() and config_parse_string() but nothing is logged: on
 * failure the message (file:line, [section] key, what is accepted) is copied
 * to errbuf (may be NULL). cfg/ret are untouched on failure.
 */
int config_load_ex(const char *main_path, bool required, struct config *ret, char *errbuf,
		   size_t errbuf_size);
int config_parse_string_ex(const char *text, const char *origin, struct config *cfg, char *errbuf,
			   size_t errbuf_size);

/* The [vm NAME] section of this VM: by UUID (any case) first, then by name; NULL if none. */
const struct config_vm *config_vm_find(const struct config *cfg, const char *name,
				       const char *uuid);
/* The model and CPU management that apply to this VM. */
enum forecast_model config_vm_model(const struct config *cfg, const char *name, const char *uuid,
				    bool *ret_overridden);
bool config_vm_cpu_manage(const struct config *cfg, const char *name, const char *uuid);
/*
 * The VM's class: its [vm] class, else guaranteed when its section says
 * pin = yes, else [alloc] class.
 */
enum pool_class config_vm_class(const struct config *cfg, const char *name, const char *uuid);
/* Whether the VM gets dedicated cores: its [vm] pin, default no. */
bool config_vm_pin(const struct config *cfg, const char *name, const char *uuid);

/* The API socket path: api_socket, or <run_dir>/prescient.sock when unset. */
int config_api_socket_path(const struct config *cfg, char *buf, size_t size);

#endif
