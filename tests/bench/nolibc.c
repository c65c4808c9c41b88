/* A program that does nothing, without a C library (x86_64): the exec
 * alone. Built with -nostdlib -static. */
void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
}
