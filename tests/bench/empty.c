/* A program that does nothing: its run time is the exec and its C
 * library's start-up. */
int main(void)
{
	return 0;
}
