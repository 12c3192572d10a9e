import { InvalidArgumentError } from 'commander';
import { wholeNumberOption } from '../../usage/src/cli/whole-number-option';

/** Commander's parser for an option `check` takes or throws for: refused at parse time (exit 1, the option named), before anything is read or sent. */
export const optionValue =
  <T>(option: string, check: (option: string, v: string) => T) =>
  (v: string): T => {
    try {
      return check(option, v);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };

/** Commander's parser for a count option: a whole number from 1 to `max`. */
export const wholeNumber = (option: string, max: number) => optionValue(option, (name, v) => wholeNumberOption(name, v, max));
