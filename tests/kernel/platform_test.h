/*
 * platform_test.h - shared setup of the platform tests (platform_acpi.c).
 */
#ifndef TESTS_KERNEL_PLATFORM_TEST_H
#define TESTS_KERNEL_PLATFORM_TEST_H

/*
 * Makes sure ACPI, this CPU's local APIC and time are initialized, as kmain
 * does. While kmain does not call acpi_init yet, the RSDP is found the old
 * way: a scan of the firmware's ACPI memory (from the parsed boot memory
 * map) for a valid "RSD PTR " structure; a diagnostic says so.
 */
void platform_test_setup(void);

#endif
